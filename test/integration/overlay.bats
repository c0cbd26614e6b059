#!/usr/bin/env bats
# The container's root is an overlay (RootOverlay): the image is its lower layer, never
# written; mount points, the working directory and what a writable container writes go to
# an upper layer of the task's own, mounted in the task's own user and mount namespace,
# gone with the task. RootOverlay=fuse forces fuse-overlayfs, RootOverlay=off the old way.

load common

OWNED="$WORK/ov-bundle"          # a copy of the fixture bundle that belongs to the test user
DATA="$WORK/ov-data"             # a directory to bind, with one file
SQSH="$F/scratch/ov.sqsh"        # a squashfs image of the busybox root, files of root
MY_SQSH="$WORK/ov-mine.sqsh"     # the same, files of the test user (made by the user)
HOME_DIR="$(getent passwd "$SPANK_OCI_TEST_USER" | cut -d: -f6)"
# prints the file system type of the container's / (run inside it)
ROOT_FSTYPE='awk '\''$5 == "/" { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }'\'' /proc/self/mountinfo'

setup_file() {
	write_config
	rm -rf "$OWNED" "$DATA" "$WORK"/ov-src-*
	cp -a "$F/bundle" "$OWNED"
	mkdir -p "$DATA" "$WORK/ov-src-1" "$WORK/ov-src-2"
	echo data-file >"$DATA/file"
	echo one >"$WORK/ov-src-1/file"
	echo two >"$WORK/ov-src-2/file"
	chown -R "$SPANK_OCI_TEST_USER:" "$OWNED" "$DATA" "$WORK"/ov-src-*
	mkdir -p "$F/scratch"
	mksquashfs "$F/rootfs-only" "$SQSH" -noappend -quiet -all-root >/dev/null
	rm -f "$MY_SQSH"
	runuser -u "$SPANK_OCI_TEST_USER" -- mksquashfs "$OWNED/rootfs" "$MY_SQSH" -noappend -quiet >/dev/null
	chmod -R a+rX "$F/scratch"
}

setup() {
	# what the tests rely on: none of these is in the bundle's root; its dirs are the user's
	for d in /data /results "$HOME_DIR"; do
		[ ! -e "$OWNED/rootfs$d" ]
	done
	[ "$(stat -c '%U %a' "$OWNED/rootfs" "$OWNED/rootfs/home")" = "$(printf '%s 755\n%s 755' "$SPANK_OCI_TEST_USER" "$SPANK_OCI_TEST_USER")" ]
	OWNED_BEFORE="$(listing "$OWNED")"
}

teardown() {
	write_config # after the tests that change it
	rm -f "$DATA/go" "$WORK"/ov-src-*/go "$HOME_DIR/ov-home-marker"
	assert_no_leftovers
	# the user's own bundle is exactly as it was: names, owners, modes, sizes, mtimes
	diff <(echo "$OWNED_BEFORE") <(listing "$OWNED") >&2 || {
		echo "the bundle $OWNED changed (above)" >&2
		return 1
	}
	assert_node_idle
}

# listing DIR: every file below DIR with its owner, group, mode, size and mtime.
listing() {
	(cd "$1" && find . -printf '%p %u %g %m %s %T@\n' | sort)
}

# The same without mtimes (RootOverlay=off: the runtime's mount points come and go).
listing_no_times() {
	(cd "$1" && find . -printf '%p %u %g %m %s\n' | sort)
}

# No process of the node's own mount namespaces (the host's, pid 1's, and the test node's,
# slurmd's: init, slurmd, the steps' slurmstepd, the task processes) sees a mount in the
# spool: the overlay lives only in the task's namespace.
node_sees_no_spool_mounts() {
	local slurmd ns proc
	slurmd="$(cat "$SPANK_OCI_CLUSTER_DIR/slurm/slurmd.pid")"
	ns="$(readlink /proc/1/ns/mnt) $(readlink "/proc/$slurmd/ns/mnt")"
	[ -n "$ns" ]
	for proc in /proc/[0-9]*; do
		[[ " $ns " == *" $(readlink "$proc/ns/mnt" 2>/dev/null) "* ]] || continue
		if grep -F "$SPOOL" "$proc/mountinfo" 2>/dev/null; then
			echo "${proc#/proc/} ($(tr '\0' ' ' <"$proc/cmdline")) sees the mounts above" >&2
			return 1
		fi
	done
}

@test "overlay: binds, home and workdir in a user-owned bundle that lacks them; the bundle is unchanged" {
	runuser -u "$SPANK_OCI_TEST_USER" -- touch "$HOME_DIR/ov-home-marker"
	run_split as_user srun --container="$OWNED" --container-mounts="$DATA:/data" \
		--container-mount-home --container-workdir=/results \
		sh -c "cat /data/file; ls $HOME_DIR; pwd; echo out >written && cat /results/written; $ROOT_FSTYPE; id -u"
	echo "$output" >&2
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = data-file ]
	grep -qx ov-home-marker <<<"$output"
	# the user's own identity (runc: with the subordinate ids)
	[ "$(tail -n 4 <<<"$output")" = "$(printf '/results\nout\noverlay\n%s' "$TEST_UID")" ]
	[ -z "$stderr" ]
	# teardown: the bundle's listing (with mtimes) is unchanged
}

@test "overlay: a read-only (root-owned) bundle gets a new mount point and workdir" {
	run_split as_user srun --container="$F/bundle" --container-mounts="$DATA:/newdir" \
		--container-workdir=/made/here sh -c 'cat /newdir/file; pwd'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'data-file\n/made/here')" ]
	[ ! -e "$F/bundle/rootfs/newdir" ]
}

@test "overlay: srun -n 2, task 0 ends at once, task 1 reads its bind 3 s later" {
	run_split as_user srun -n 2 --container="$OWNED" --container-mounts="$DATA:/data" \
		sh -c 'if [ "$SLURM_PROCID" = 1 ]; then sleep 3; fi; echo "$SLURM_PROCID $(cat /data/file)"'
	echo "$output" >&2
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(sort <<<"$output")" = "$(printf '0 data-file\n1 data-file')" ]
}

@test "overlay: two jobs on one bundle bind different sources at /newdir; the first ends, the second still reads its own" {
	# the second job waits (10 s at most) for a file the test puts into its source once
	# the first job has ended, then reads its bind
	start_and_wait "$WORK/ov-second" as_user srun --container="$OWNED" \
		--container-mounts="$WORK/ov-src-2:/newdir" sh -c \
		'cat /newdir/file; echo started; i=0; while [ ! -e /newdir/go ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; cat /newdir/file /newdir/go'
	run_split as_user srun --container="$OWNED" --container-mounts="$WORK/ov-src-1:/newdir" cat /newdir/file
	[ "$status" -eq 0 ]
	[ "$output" = one ]
	runuser -u "$SPANK_OCI_TEST_USER" -- sh -c "echo go >'$WORK/ov-src-2/go'"
	wait
	cat "$WORK/ov-second" >&2
	[ "$(cat "$WORK/ov-second")" = "$(printf 'two\nstarted\ntwo\ngo')" ]
}

@test "overlay: --container-writable on an image: a step's writes are gone in the next step, the cache is unchanged" {
	empty_dir "$CACHE"
	run_split as_user srun --container="$F/layout:busybox" true
	[ "$status" -eq 0 ]
	entry="$(find "$CACHE" -mindepth 2 -maxdepth 2 -name rootfs -type d)"
	[ -n "$entry" ] && [ "$(wc -l <<<"$entry")" -eq 1 ]
	before="$(listing "$entry")"
	job="$(as_user sbatch --parsable -o "$WORK/ov-writable-%j.out" --wrap "
srun --container='$F/layout:busybox' --container-writable sh -c 'echo written >/etc/written && cat /etc/written; rm /etc/os-release; echo more >>/etc/passwd; mkdir -p /bin/new; echo ok'
srun --container='$F/layout:busybox' --container-writable sh -c 'ls /etc/written 2>&1; grep -c . /etc/passwd; grep ^ID= /etc/os-release; ls /bin/new 2>&1; true'")"
	wait_job "$job"
	out="$(batch_output "$WORK/ov-writable-$job.out")"
	echo "$out" >&2
	[ "$(sed -n 1,2p <<<"$out")" = "$(printf 'written\nok')" ]
	[[ "$(sed -n 3p <<<"$out")" == *"/etc/written: No such file or directory"* ]]
	[ "$(sed -n 4p <<<"$out")" = 2 ]
	[ "$(sed -n 5p <<<"$out")" = ID=spank-oci-busybox ]
	[[ "$(sed -n 6p <<<"$out")" == *"/bin/new: No such file or directory"* ]]
	diff <(echo "$before") <(listing "$entry") >&2 || {
		echo "the cached image $entry changed (above)" >&2
		return 1
	}
}

@test "overlay: a squashfs image with --container-writable (files of root, as mksquashfs -all-root makes them)" {
	sum="$(sha256sum <"$SQSH")"
	run_split as_user srun --container="$SQSH" --container-writable sh -c 'echo hi >/etc/x && cat /etc/x'
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
	assert_refused "No such file or directory" as_user srun --container="$SQSH" cat /etc/x
	[ "$(sha256sum <"$SQSH")" = "$sum" ]
}

@test "overlay: a squashfs image of the user's own files with --container-writable" {
	sum="$(sha256sum <"$MY_SQSH")"
	run_split as_user srun --container="$MY_SQSH" --container-writable sh -c "echo hi >/etc/x && cat /etc/x; $ROOT_FSTYPE"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'hi\noverlay')" ]
	assert_refused "No such file or directory" as_user srun --container="$MY_SQSH" cat /etc/x
	[ "$(sha256sum <"$MY_SQSH")" = "$sum" ]
}

@test "overlay: while a container runs its root is an overlay only in the task's namespace" {
	start_and_wait "$WORK/ov-running" as_user srun --container="$OWNED" \
		--container-mounts="$DATA:/data" sh -c 'echo started; exec sleep 301'
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until '[ -n "$(pgrep -u "$SPANK_OCI_TEST_USER" -fx "sleep 301")" ]'
	pid="$(pgrep -u "$SPANK_OCI_TEST_USER" -fx "sleep 301")"
	root="$(awk '$5 == "/" { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' "/proc/$pid/mountinfo")"
	[ "$root" = overlay ]
	# the container's bind is there, on the overlay's mount point
	grep -q ' /data ' "/proc/$pid/mountinfo"
	# the node never sees the overlay (nor any mount in the spool)
	node_sees_no_spool_mounts
	# the upper layer is in the spool while the task lives
	[ -n "$(find "$SPOOL" -maxdepth 3 -name upper -type d)" ]
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	# teardown: nothing left
}

@test "overlay: RootOverlay=fuse runs the root on fuse-overlayfs" {
	write_config RootOverlay=fuse
	start_and_wait "$WORK/ov-fuse" as_user srun --container="$OWNED" \
		--container-mounts="$DATA:/data" --container-workdir=/results \
		sh -c "$ROOT_FSTYPE; cat /data/file; pwd; echo w >/results/w && cat w; echo started; exec sleep 302"
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until '[ -n "$(pgrep -u "$SPANK_OCI_TEST_USER" -fx "sleep 302")" ]'
	node_sees_no_spool_mounts
	[ -n "$(pgrep -u "$SPANK_OCI_TEST_USER" -x fuse-overlayfs)" ]
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	cat "$WORK/ov-fuse" >&2
	[ "$(sed -n 1,5p "$WORK/ov-fuse")" = "$(printf 'fuse.fuse-overlayfs\ndata-file\n/results\nw\nstarted')" ]
	# teardown: nothing left, fuse-overlayfs included (a process of the user)
}

@test "overlay: RootOverlay=kernel and the default (auto) use the kernel's overlay here" {
	for v in kernel auto; do
		write_config "RootOverlay=$v"
		run_split as_user srun --container="$OWNED" sh -c "$ROOT_FSTYPE"
		[ "$status" -eq 0 ]
		[ "$output" = overlay ]
	done
}

@test "overlay: a fuse-overlayfs that does not mount fails the task with one line, nothing left" {
	write_config RootOverlay=fuse RootOverlayFuse=/bin/false
	assert_refused "/bin/false ended with status 1 without mounting" \
		as_user srun --container="$OWNED" --container-mounts="$DATA:/data" touch "$WORK/marker"
	echo "$stderr" >&2
	[ ! -e "$WORK/marker" ]
	[ "$(grep -c '^spank-oci: ' <<<"$stderr")" -eq 1 ]
	line="$(grep '^spank-oci: ' <<<"$stderr")"
	[[ "$line" == "spank-oci: "*"$OWNED/rootfs"*": /bin/false ended with status 1 without mounting" ]]
	# srun's lines and slurmstepd's copy of the node's log line (Slurm's log in the task
	# process also writes to its stderr) aside, that is all the task said
	[ "$(grep -c -v -e '^spank-oci: ' -e '^srun: ' -e '^slurmstepd[^:]*: error: spank-oci: job ' <<<"$stderr")" -eq 0 ]
	# teardown: nothing left
}

@test "overlay: RootOverlay=off runs the old way: in the image, its mount points removed after" {
	write_config RootOverlay=off
	assert_refused "spank-oci: --container-writable: $SQSH is a squashfs image, which is read-only without an overlay (RootOverlay=off in $CONFIG)" \
		as_user srun --container="$SQSH" --container-writable touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
	before="$(listing_no_times "$OWNED")"
	run_split as_user srun --container="$OWNED" --container-mounts="$DATA:/tmp/data" \
		sh -c "cat /tmp/data/file; $ROOT_FSTYPE"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = data-file ]
	[ "$(sed -n 2p <<<"$output")" != overlay ]
	[[ "$(sed -n 2p <<<"$output")" != fuse* ]]
	[ ! -e "$OWNED/rootfs/tmp/data" ]
	diff <(echo "$before") <(listing_no_times "$OWNED") >&2
	# the runtime made /tmp/data in the image and it was removed: /tmp's mtime is all
	# that changed
	OWNED_BEFORE="$(listing "$OWNED")"
}
