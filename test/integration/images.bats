#!/usr/bin/env bats
# --container=<OCI image layout>[:tag|@digest]: unpacked once per user and node into the
# image cache, with the image spec's whiteouts, and nothing written outside the cache.

load common

CLI="$REPO/build/spank-oci"
IMG="$F/scratch/layout"

# A tar layer made by python's tarfile from a list of (name, kind, data/target, mode).
make_layer() {
	python3 - "$@" <<-'PY'
		import io, sys, tarfile
		out, entries = sys.argv[1], sys.argv[2:]
		with tarfile.open(out, "w") as t:
		    for spec in entries:
		        name, kind, arg, mode = spec.split("|")
		        i = tarfile.TarInfo(name)
		        i.mode = int(mode, 8)
		        data = None
		        if kind == "file":
		            data = arg.encode()
		            i.size = len(data)
		        elif kind == "dir":
		            i.type = tarfile.DIRTYPE
		        elif kind == "symlink":
		            i.type, i.linkname = tarfile.SYMTYPE, arg
		        elif kind == "hardlink":
		            i.type, i.linkname = tarfile.LNKTYPE, arg
		        elif kind == "chardev":
		            i.type, i.devmajor, i.devminor = tarfile.CHRTYPE, 1, 3
		        t.addfile(i, io.BytesIO(data) if data is not None else None)
	PY
}

# Adds BLOB (already compressed, of MEDIATYPE; its uncompressed tar is TAR) as a layer on
# top of LAYOUT:BASE, tagged NEW: what umoci raw add-layer does, for any compression.
add_blob_layer() {
	python3 - "$@" <<-'PY'
		import hashlib, json, os, sys
		layout, base, new, blob, mediatype, tar = sys.argv[1:]
		def put(data):
		    d = hashlib.sha256(data).hexdigest()
		    open(os.path.join(layout, "blobs/sha256", d), "wb").write(data)
		    return "sha256:" + d, len(data)
		def get(digest):
		    return json.load(open(os.path.join(layout, "blobs/sha256", digest[7:])))
		index = json.load(open(os.path.join(layout, "index.json")))
		ref = "org.opencontainers.image.ref.name"
		desc = next(m for m in index["manifests"] if m.get("annotations", {}).get(ref) == base)
		manifest = get(desc["digest"])
		config = get(manifest["config"]["digest"])
		config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(open(tar, "rb").read()).hexdigest())
		d, n = put(json.dumps(config).encode())
		manifest["config"] = dict(manifest["config"], digest=d, size=n)
		d, n = put(open(blob, "rb").read())
		manifest["layers"].append({"mediaType": mediatype, "digest": d, "size": n})
		d, n = put(json.dumps(manifest).encode())
		index["manifests"].append(dict(desc, digest=d, size=n, annotations={ref: new}))
		json.dump(index, open(os.path.join(layout, "index.json"), "w"))
	PY
}

setup_file() {
	write_config
	rm -rf "$IMG" "$F/scratch/layers"
	mkdir -p "$F/scratch/layers"
	L="$F/scratch/layers"
	umoci init --layout "$IMG"
	umoci new --image "$IMG:base"
	umoci unpack --rootless --image "$IMG:base" "$F/scratch/unpacked" >/dev/null
	cp -a "$F/rootfs-only/." "$F/scratch/unpacked/rootfs/"
	mkdir -p "$F/scratch/unpacked/rootfs/opq"
	echo lower >"$F/scratch/unpacked/rootfs/opq/lower-file"
	echo doomed >"$F/scratch/unpacked/rootfs/etc/deleted-file"
	umoci repack --image "$IMG:base" "$F/scratch/unpacked" >/dev/null
	umoci config --image "$IMG:base" --config.env IMAGE_VAR=from-image --config.workingdir /etc >/dev/null
	rm -rf "$F/scratch/unpacked"
	# upper layer: a whiteout and an opaque directory
	make_layer "$L/upper.tar" "etc/.wh.deleted-file|file||644" "opq/|dir||755" \
		"opq/.wh..wh..opq|file||644" "opq/upper-file|file|upper|644"
	umoci raw add-layer --image "$IMG:base" --tag multi "$L/upper.tar"
	# malicious layers, each on top of base
	make_layer "$L/dotdot.tar" "../../../../../tmp/spank-oci-evil-dotdot|file|x|644"
	make_layer "$L/absolute.tar" "/tmp/spank-oci-evil-absolute|file|x|644"
	make_layer "$L/symlink.tar" "escape|symlink|/tmp|777" "escape/spank-oci-evil-symlink|file|x|644"
	make_layer "$L/hardlink.tar" "hl|hardlink|../../../../etc/passwd|644"
	make_layer "$L/hardlink-abs.tar" "hl|hardlink|/etc/passwd|644"
	make_layer "$L/setuid.tar" "suid|file|x|4755" "sgid|file|x|2755"
	make_layer "$L/device.tar" "devs/|dir||755" "devs/null2|chardev||666"
	for t in dotdot absolute symlink hardlink hardlink-abs setuid device; do
		umoci raw add-layer --image "$IMG:base" --tag "$t" "$L/$t.tar"
	done
	# a symlink planted in one layer, written through in the next
	make_layer "$L/plant.tar" "planted|symlink|/tmp|777"
	make_layer "$L/through.tar" "planted/spank-oci-evil-planted|file|x|644"
	umoci raw add-layer --image "$IMG:base" --tag planted "$L/plant.tar"
	umoci raw add-layer --image "$IMG:planted" --tag planted2 "$L/through.tar"
	# a tar+zstd layer
	make_layer "$L/zstd.tar" "zstd-file|file|compressed with zstd|644"
	zstd -q -f -o "$L/zstd.tar.zst" "$L/zstd.tar"
	add_blob_layer "$IMG" base zstd "$L/zstd.tar.zst" \
		application/vnd.oci.image.layer.v1.tar+zstd "$L/zstd.tar"
	# a squashfs file of the busybox rootfs
	mksquashfs "$F/rootfs-only" "$F/scratch/img.sqsh" -noappend -quiet -all-root >/dev/null
	# an Entrypoint, for --container-entrypoint
	umoci config --image "$IMG:base" --tag ep --config.entrypoint /bin/echo \
		--config.entrypoint from-entrypoint >/dev/null
	chmod -R a+rX "$F/scratch"
	empty_dir "$CACHE"
}

# The squashfuse mounts on the test node (slurmd's mount namespace: scripts/node-ns).
node_fuse_mounts() {
	grep -c 'fuse.squashfuse' "/proc/$(cat "$SPANK_OCI_CLUSTER_DIR/slurm/slurmd.pid")/mountinfo" || true
}

teardown() {
	write_config # after the tests that change it
	assert_no_leftovers
}

no_escapes() {
	for f in dotdot absolute symlink planted; do
		[ ! -e "/tmp/spank-oci-evil-$f" ] || {
			echo "/tmp/spank-oci-evil-$f was written" >&2
			return 1
		}
	done
	! grep -q spank-oci-evil /etc/passwd
}

@test "images: srun --container=layout:tag runs the image; whiteouts and opaque dirs apply" {
	run_split as_user srun --container="$IMG:multi" sh -c \
		'grep ^NAME /etc/os-release; ls /etc/deleted-file 2>&1; ls /opq; echo "$IMAGE_VAR"'
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = 'NAME="spank-oci busybox"' ]
	[[ "$(sed -n 2p <<<"$output")" == *"No such file or directory"* ]]
	[ "$(sed -n 3p <<<"$output")" = "upper-file" ]
	[ "$(sed -n 4p <<<"$output")" = "from-image" ]
	# a quick unpack tells nothing
	[[ "$stderr" != *"spank-oci: unpacking"* ]]
}

@test "images: tar+zstd layers" {
	run_split as_user srun --container="$IMG:zstd" cat /zstd-file
	[ "$status" -eq 0 ]
	[ "$output" = "compressed with zstd" ]
}

@test "images: a blob that does not match its digest is refused, nothing is cached" {
	rm -rf "$F/scratch/bad-img"
	empty_dir "$CACHE"
	cp -a "$IMG" "$F/scratch/bad-img"
	manifest="$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="multi") | .digest' "$IMG/index.json" | cut -d: -f2)"
	layer="$(jq -r '.layers[-1].digest' "$IMG/blobs/sha256/$manifest" | cut -d: -f2)"
	# same size, one byte changed (in the gzip trailer: the tar still reads)
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-5]^=1; open(p,"wb").write(b)' \
		"$F/scratch/bad-img/blobs/sha256/$layer"
	chmod -R a+rX "$F/scratch/bad-img"
	assert_refused "spank-oci: *$layer: digest mismatch: expected sha256:$layer, read sha256:" \
		as_user srun --container="$F/scratch/bad-img:multi" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
	[ -z "$(find "$CACHE" -mindepth 1 -maxdepth 1 -type d)" ]
	# a tampered manifest is refused before anything is unpacked
	echo ' ' >>"$F/scratch/bad-img/blobs/sha256/$manifest"
	assert_refused "spank-oci: image $F/scratch/bad-img: *$manifest: digest mismatch" \
		as_user srun --container="$F/scratch/bad-img:multi" true
}

@test "images: an unpack that takes over a second reports its progress" {
	# the layer blob is a FIFO this test feeds slowly: a third, a pause, the rest
	rm -rf "$F/scratch/slow-img"
	empty_dir "$CACHE"
	cp -a "$IMG" "$F/scratch/slow-img"
	manifest="$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="base") | .digest' "$IMG/index.json" | cut -d: -f2)"
	layer="$(jq -r '.layers[0].digest' "$IMG/blobs/sha256/$manifest" | cut -d: -f2)"
	blob="$F/scratch/slow-img/blobs/sha256/$layer"
	size="$(stat -c %s "$blob")"
	cp "$blob" "$F/scratch/slow-layer" && rm "$blob" && mkfifo -m 0644 "$blob"
	chmod -R a+rX "$F/scratch/slow-img"
	as_user srun --container="$F/scratch/slow-img:base" true 2>"$WORK/progress.err" &
	{
		head -c $((size / 3)) "$F/scratch/slow-layer"
		sleep 1.5
		tail -c +$((size / 3 + 1)) "$F/scratch/slow-layer"
	} >"$blob"
	wait
	cat "$WORK/progress.err" >&2
	mb="$(python3 -c "print('%.1f' % ($size / 1e6))")"
	grep -Eq "^spank-oci: unpacking $F/scratch/slow-img:base: [0-9]+% \([0-9.]+/$mb MB\)\$" "$WORK/progress.err"
	grep -Eq "^spank-oci: unpacking $F/scratch/slow-img:base: 100% \($mb/$mb MB\), done in [0-9.]+ s\$" "$WORK/progress.err"
	[ "$(wc -l <"$CACHE/unpack.log")" -eq 1 ]
}

@test "images: the image's WorkingDir is used when the task's cwd is not in the image" {
	run_split as_user srun --chdir="$WORK" --container="$IMG:base" pwd
	[ "$status" -eq 0 ]
	[ "$output" = "/etc" ]
	run_split as_user srun --chdir=/tmp --container="$IMG:base" pwd
	[ "$output" = "/tmp" ]
}

@test "images: --container-entrypoint runs the image's Entrypoint before the command" {
	run_split as_user srun --container="$IMG:ep" --container-entrypoint hello
	[ "$status" -eq 0 ]
	[ "$output" = "from-entrypoint hello" ]
	# without it the Entrypoint is not run; the variable does the same as the option
	run_split as_user srun --container="$IMG:ep" echo hello
	[ "$output" = "hello" ]
	run_split as_user env SPANK_OCI_CONTAINER_ENTRYPOINT=1 srun --container="$IMG:ep" hello
	[ "$output" = "from-entrypoint hello" ]
}

@test "images: --container-entrypoint with a bundle directory is an error naming it" {
	assert_refused "spank-oci: --container-entrypoint needs an OCI image: $F/bundle is a bundle or root filesystem directory" \
		as_user srun --container="$F/bundle" --container-entrypoint touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "images: an image's root is read-only unless --container-writable" {
	assert_refused "Read-only file system" as_user srun --container="$IMG:base" touch /written
}

@test "images: 4 tasks on a node unpack the image once, and a second step reuses it" {
	empty_dir "$CACHE"
	run_split as_user srun -n 4 --container="$IMG:multi" sh -c 'cat /opq/upper-file; echo'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'upper\nupper\nupper\nupper')" ]
	[ "$(wc -l <"$CACHE/unpack.log")" -eq 1 ]
	run_split as_user srun -n 2 --container="$IMG:multi" true
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$CACHE/unpack.log")" -eq 1 ]
	# by digest too, the same cache entry
	digest="$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="multi") | .digest' "$IMG/index.json")"
	run_split as_user srun --container="$IMG@$digest" true
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$CACHE/unpack.log")" -eq 1 ]
}

@test "images: spank-oci cache add unpacks once and prints the rootfs, which a step reuses" {
	empty_dir "$CACHE"
	run_split as_user "$CLI" cache add --config "$CONFIG" "$IMG:multi"
	[ "$status" -eq 0 ]
	[[ "$output" == "$CACHE/"*"/rootfs" ]]
	[ -f "$output/opq/upper-file" ]
	rootfs="$output"
	run_split as_user "$CLI" cache add --config "$CONFIG" "$IMG:multi"
	[ "$status" -eq 0 ]
	[ "$output" = "$rootfs" ]
	run_split as_user srun --container="$IMG:multi" true
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$CACHE/unpack.log")" -eq 1 ]
	run_split as_user "$CLI" cache add --config "$CONFIG"
	[ "$status" -eq 2 ]
	assert_refused "spank-oci: image $IMG:nosuchtag: no manifest tagged nosuchtag" \
		as_user "$CLI" cache add --config "$CONFIG" "$IMG:nosuchtag"
	[ "$status" -eq 1 ]
}

@test "images: several manifests and no selector is a clear error" {
	assert_refused "spank-oci: image $IMG holds * manifests: name one with :tag or @sha256:<digest>" \
		as_user srun --container="$IMG" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
	run_split as_user srun --container="$IMG:nosuchtag" true
	[[ "$stderr" == *"spank-oci: image $IMG:nosuchtag: no manifest tagged nosuchtag"* ]]
}

@test "images: layers that escape the root are refused, nothing is written outside the cache" {
	for t in dotdot absolute hardlink hardlink-abs; do
		assert_refused "spank-oci: *refused" as_user srun --container="$IMG:$t" touch "$WORK/marker"
		[ ! -e "$WORK/marker" ]
		no_escapes
	done
	# a refused image leaves no half image behind
	[ -z "$(find "$CACHE" -maxdepth 1 -name '.unpacking-*')" ]
}

@test "images: writes through a symlink (same layer or planted below) stay inside the root" {
	# libarchive replaces the symlink in the path by a directory: the write lands inside
	for t in symlink:escape planted2:planted; do
		run_split as_user srun --container="$IMG:${t%%:*}" ls "/${t##*:}"
		[ "$status" -eq 0 ]
		[ "$output" = "spank-oci-evil-${t##*:}" ] || [ "$output" = "spank-oci-evil-symlink" ]
		no_escapes
	done
}

@test "images: setuid bits and device nodes are neutralised" {
	run_split as_user srun --container="$IMG:setuid" stat -c '%a %n' /suid /sgid
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '755 /suid\n755 /sgid')" ]
	run_split as_user srun --container="$IMG:device" ls -A /devs
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	cat "$CACHE/unpack.log" >&2 # shown if it fails
	grep -q "devices_skipped=1" "$CACHE/unpack.log"
}

@test "images: an unpack killed midway leaves no half image that a later step would use" {
	# the layer blob is a FIFO this test feeds: half a layer, then the unpacker is killed
	rm -rf "$F/scratch/fifo-img"
	empty_dir "$CACHE"
	cp -a "$IMG" "$F/scratch/fifo-img"
	layer="$(jq -r '.layers[0].digest' "$F/scratch/fifo-img/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="base") | .digest' "$IMG/index.json" | cut -d: -f2)" | cut -d: -f2)"
	blob="$F/scratch/fifo-img/blobs/sha256/$layer"
	cp "$blob" "$F/scratch/layer.real"
	rm "$blob" && mkfifo -m 0644 "$blob"
	as_user "$CLI" run --config "$CONFIG" --bundle "$F/scratch/fifo-img:base" -- true &
	exec 7>"$blob"
	head -c 300000 "$F/scratch/layer.real" >&7
	wait_until '[ -n "$(find "$CACHE" -maxdepth 1 -name ".unpacking-*" 2>/dev/null)" ]'
	pkill -9 -u "$SPANK_OCI_TEST_USER" -x spank-oci
	exec 7>&-
	wait || true
	# no image in the cache, only the half unpack
	[ -z "$(find "$CACHE" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' -type d)" ]
	empty_dir "$SPOOL" # the CLI was killed: there is no Slurm step to sweep its files
	# a later run unpacks it whole and removes the half one
	rm "$blob" && cp "$F/scratch/layer.real" "$blob" && chmod a+r "$blob"
	run_split as_user "$CLI" run --config "$CONFIG" --bundle "$F/scratch/fifo-img:base" -- cat /etc/os-release
	[ "$status" -eq 0 ]
	[[ "$output" == *'NAME="spank-oci busybox"'* ]]
	[ -z "$(find "$CACHE" -maxdepth 1 -name '.unpacking-*')" ]
}

@test "images: spank-oci cache list and prune; an image in use is never removed" {
	empty_dir "$CACHE"
	as_user srun --container="$IMG:base" true
	start_and_wait "$WORK/in-use" \
		as_user srun --container="$IMG:multi" sh -c 'echo started; sleep 300'
	run_split as_user "$CLI" cache list --config "$CONFIG"
	[ "$status" -eq 0 ]
	[ "$(wc -l <<<"$output")" -eq 2 ]
	grep -q " in-use  $IMG:multi\$" <<<"$output"
	grep -q " idle    $IMG:base\$" <<<"$output"
	run_split as_user "$CLI" cache prune --all --config "$CONFIG"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^removed sha256:' <<<"$output")" -eq 1 ]
	run_split as_user "$CLI" cache list --config "$CONFIG"
	[ "$(wc -l <<<"$output")" -eq 1 ]
	grep -q "$IMG:multi\$" <<<"$output"
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	# the image still works after the prune
	run_split as_user srun --container="$IMG:multi" cat /opq/upper-file
	[ "$output" = upper ]
}

@test "images: ImageCacheSize evicts the least recently used image after an unpack" {
	empty_dir "$CACHE"
	write_config ImageCacheSize=3M # each test image takes about 2 MiB
	as_user srun --container="$IMG:base" true
	as_user srun --container="$IMG:setuid" true
	run_split as_user "$CLI" cache list --config "$CONFIG"
	[ "$(wc -l <<<"$output")" -eq 1 ]
	grep -q "$IMG:setuid\$" <<<"$output"
}

@test "images: srun --container=img.sqsh runs it read-only, /tmp writable, mount gone after" {
	run_split as_user srun --container="$F/scratch/img.sqsh" sh -c \
		'grep ^NAME /etc/os-release; touch /etc/x 2>&1; echo w >/tmp/w && cat /tmp/w; grep -cE " / (overlay|fuse.fuse-overlayfs) " /proc/mounts'
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = 'NAME="spank-oci busybox"' ]
	[[ "$(sed -n 2p <<<"$output")" == *"Read-only file system"* ]]
	[ "$(sed -n 3p <<<"$output")" = w ]
	[ "$(sed -n 4p <<<"$output")" = 1 ]
	[ "$(node_fuse_mounts)" -eq 0 ]
}

@test "images: RemapRoot=false with runc refuses a squashfs root without an overlay and says why" {
	# runc needs uid 0 mapped; with a squashfs mount as the root that must be the user (FUSE)
	RUNTIME=runc write_config RemapRoot=false RootOverlay=off
	assert_refused "spank-oci: a squashfs image under runc runs as uid 0 in the container (mapped to $SPANK_OCI_TEST_USER): its FUSE mount lets only $SPANK_OCI_TEST_USER in, and RemapRoot=false in $CONFIG forbids that" \
		as_user srun --container="$F/scratch/img.sqsh" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "images: a squashfs image runs as yourself, with every runtime (its overlay reads it as you)" {
	run_split as_user srun --container="$F/scratch/img.sqsh" sh -c 'id -u; id -g'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n%s' "$TEST_UID" "$(id -g "$SPANK_OCI_TEST_USER")")" ]
	[[ "$stderr" != *notice* ]]
}

@test "images: the tasks of a step on a node share one squashfs mount" {
	# each task's root is an overlay of its own on the step's one squashfuse mount
	# shellcheck disable=SC2016 # expanded by the container's shell
	run_split as_user srun -n 4 --container="$F/scratch/img.sqsh" sh -c \
		'sleep 1; for p in /proc/[0-9]*; do
			[ "$(cat $p/comm 2>/dev/null)" = squashfuse ] &&
				tr "\0" " " <$p/cmdline | grep -q "/$SLURM_JOB_ID.$SLURM_STEP_ID/" && echo $p
		done | wc -l'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1\n1\n1\n1')" ]
	[ "$(node_fuse_mounts)" -eq 0 ]
}

@test "images: a cancelled squashfs step leaves no mount" {
	start_and_wait "$WORK/sqsh-run" \
		as_user srun --container="$F/scratch/img.sqsh" sh -c 'echo started; sleep 300'
	[ "$(node_fuse_mounts)" -eq 1 ]
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	wait_until -t 5 '[ "$(node_fuse_mounts)" -eq 0 ]'
}

@test "images: a file that is neither image nor bundle is a clear error" {
	echo "not an image" >"$F/scratch/not-an-image"
	chmod a+r "$F/scratch/not-an-image"
	assert_refused "spank-oci: $F/scratch/not-an-image is neither a directory (bundle or root filesystem), an OCI image layout nor a squashfs file" \
		as_user srun --container="$F/scratch/not-an-image" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}
