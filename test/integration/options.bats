#!/usr/bin/env bats
# The container options on srun, sbatch and salloc (--container-mounts, -workdir, -env,
# -remap-root, -writable, -mount-home), their variables, the site policy and option
# errors, against the real local Slurm as an ordinary user.

load common

DATA="$F/scratch/data"     # a directory to bind, with one file
MINE="$F/scratch/mine"     # a root filesystem that belongs to the test user

setup_file() {
	write_config
	rm -rf "$DATA" "$MINE"
	mkdir -p "$DATA"
	echo data-file >"$DATA/hello"
	chown -R "$SPANK_OCI_TEST_USER:" "$DATA"
	cp -a "$F/rootfs-only" "$MINE"
	chown -R "$SPANK_OCI_TEST_USER:" "$MINE"
	chmod -R a+rX "$F/scratch"
	(cd "$MINE" && find . | sort) >"$BATS_FILE_TMPDIR/mine.list"
}

teardown() {
	write_config # after the tests that change it
	rm -f "$F/scratch/etc-link" "$WORK"/hook-*
	assert_no_leftovers
	# nothing was left in the user's own root file system either
	diff <(cd "$MINE" && find . | sort) "$BATS_FILE_TMPDIR/mine.list" >&2
	assert_node_idle
}

# The id the next job gets: nothing was submitted in between when it grows by one.
next_job_id() {
	local j
	j="$(as_user sbatch --parsable -o /dev/null --wrap true)"
	wait_job "$j" >/dev/null
	echo "$j"
}

@test "--container-mounts binds SRC at DST, read-only with :ro, created in the config only" {
	run_split as_user srun --container="$F/bundle" --container-mounts="$DATA:/tmp/data" \
		sh -c 'ls /tmp/data; echo new >/tmp/data/written && cat /tmp/data/written'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'hello\nnew')" ]
	[ "$(cat "$DATA/written")" = new ]
	rm -f "$DATA/written"
	assert_refused "Read-only file system" \
		as_user srun --container="$F/bundle" --container-mounts="$DATA:/tmp/data:ro" \
		sh -c 'cat /tmp/data/hello; touch /tmp/data/x'
	[ "$output" = data-file ]
	[ ! -e "$DATA/x" ]
	# the mount points the runtime made in the bundle are gone (teardown: fixtures intact)
	[ ! -e "$F/bundle/rootfs/tmp/data" ]
}

@test "--container-mounts: a read-only bind of a nosuid,nodev source works" {
	# a nosuid,nodev file system where the node's jobs see it (slurmd's mount namespace)
	node="$(cat "$SPANK_OCI_CLUSTER_DIR/slurm/slurmd.pid")"
	mkdir -p "$F/scratch/nosuid"
	nsenter -t "$node" -m mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$F/scratch/nosuid"
	nsenter -t "$node" -m sh -c "echo on-nosuid >'$F/scratch/nosuid/f'"
	run_split as_user srun --container="$F/bundle" --container-mounts="$F/scratch/nosuid:/tmp/ns:ro" cat /tmp/ns/f
	nsenter -t "$node" -m umount "$F/scratch/nosuid"
	[ "$status" -eq 0 ]
	[ "$output" = on-nosuid ]
}

@test "SPANK_OCI_CONTAINER_MOUNTS does the same; the option beats the variable" {
	run_split as_user env SPANK_OCI_CONTAINER_MOUNTS="$DATA:/tmp/fromenv" \
		srun --container="$F/bundle" ls /tmp/fromenv
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	assert_refused "/tmp/fromenv: No such file or directory" \
		as_user env SPANK_OCI_CONTAINER_MOUNTS="$DATA:/tmp/fromenv" \
		srun --container="$F/bundle" --container-mounts="$DATA:/tmp/fromopt" sh -c 'ls /tmp/fromopt; ls /tmp/fromenv'
	[ "$(sed -n 1p <<<"$output")" = hello ]
}

@test "a mount source that does not exist is an error naming it, and nothing runs" {
	assert_refused "spank-oci: --container-mounts: mount source /nonexistent/src: No such file or directory" \
		as_user srun --container="$F/bundle" --container-mounts=/nonexistent/src:/tmp/x touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "ContainerMounts gives everyone a bind; MountHome and --container-mount-home the home" {
	home="$(getent passwd "$SPANK_OCI_TEST_USER" | cut -d: -f6)"
	runuser -u "$SPANK_OCI_TEST_USER" -- touch "$home/home-marker"
	write_config "ContainerMounts=$DATA:/tmp/site:ro"
	run_split as_user srun --container="$MINE" sh -c "ls /tmp/site; ls $home 2>&1; true"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p <<<"$output")" = hello ]
	[[ "$(sed -n 2p <<<"$output")" == *"No such file or directory"* ]]
	run_split as_user srun --container="$MINE" --container-mount-home ls "$home"
	[ "$status" -eq 0 ]
	[[ "$output" == *home-marker* ]]
	write_config MountHome=true
	run_split as_user srun --container="$MINE" ls "$home"
	[[ "$output" == *home-marker* ]]
	run_split as_user srun --container="$MINE" --no-container-mount-home ls "$home"
	[ "$status" -ne 0 ]
	rm -f "$home/home-marker"
}

@test "--container-workdir sets the cwd; without it the task's cwd if it exists, else /" {
	run_split as_user srun --chdir=/tmp --container="$F/bundle" --container-workdir=/etc pwd
	[ "$status" -eq 0 ]
	[ "$output" = /etc ]
	run_split as_user srun --chdir=/tmp --container="$F/bundle" pwd
	[ "$output" = /tmp ]
	run_split as_user srun --chdir="$WORK" --container="$F/bundle" pwd
	[ "$output" = / ]
	run_split as_user env SPANK_OCI_CONTAINER_WORKDIR=/bin srun --container="$F/bundle" pwd
	[ "$output" = /bin ]
}

@test "--container-env: the task's values win over the bundle's for those names only" {
	# the bundle sets PATH and BUNDLE_ONLY_VAR; its values win by default
	run_split as_user env PATH=/host/bin:/usr/bin:/bin BUNDLE_ONLY_VAR=host MY_VAR=mine \
		srun --container="$F/bundle" sh -c 'echo "$PATH|$BUNDLE_ONLY_VAR|$MY_VAR"'
	[ "$status" -eq 0 ]
	[ "$output" = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|from-bundle|mine" ]
	run_split as_user env PATH=/host/bin:/usr/bin:/bin BUNDLE_ONLY_VAR=host MY_VAR=mine \
		srun --container="$F/bundle" --container-env=BUNDLE_ONLY_VAR sh -c 'echo "$PATH|$BUNDLE_ONLY_VAR|$MY_VAR"'
	[ "$output" = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|host|mine" ]
}

@test "identity: your own uid and gid by default, uid 0 with --container-remap-root" {
	run_split as_user srun --container="$F/bundle" sh -c 'id -u; id -g; touch /tmp/owned; stat -c %u /tmp/owned; rm /tmp/owned'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "$TEST_UID" "$(id -g "$SPANK_OCI_TEST_USER")" "$TEST_UID")" ]
	[[ "$stderr" != *notice* ]]
	run_split as_user srun --container="$F/bundle" --container-remap-root sh -c 'id -u; id -g'
	[ "$output" = "$(printf '0\n0')" ]
	run_split as_user env SPANK_OCI_CONTAINER_REMAP_ROOT=1 srun --container="$F/bundle" id -u
	[ "$output" = 0 ]
}

@test "identity: a user without subordinate ids gets uid 0 with runc, with one notice" {
	nosub="$SPANK_OCI_TEST_USER_NOSUB"
	! grep -q "^$nosub:" /etc/subuid
	run_split bash -c "cd /tmp && '$REPO/scripts/node-ns' runuser -u '$nosub' -- env SLURM_CONF='$SLURM_CONF' srun -n 2 --container='$F/bundle' id -u"
	[ "$status" -eq 0 ]
	case "$RUNTIME" in
	runc*)
		[ "$output" = "$(printf '0\n0')" ]
		[ "$(grep -c 'notice' <<<"$stderr")" -eq 1 ]
		[[ "$stderr" == *"spank-oci: notice: no range for $nosub in /etc/subuid and /etc/subgid: running as uid 0 in the container"* ]]
		;;
	*) # crun runs the user's own uid without subordinate ids
		[ "$output" = "$(printf '%s\n' "$(id -u "$nosub")" "$(id -u "$nosub")")" ]
		[[ "$stderr" != *notice* ]]
		;;
	esac
}

@test "--container-writable and --container-readonly: writing to /" {
	assert_refused "Read-only file system" as_user srun --container="$MINE" --container-readonly touch /written
	[ ! -e "$MINE/written" ]
	run_split as_user srun --container="$MINE" --container-writable sh -c 'touch /written && echo ok'
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	# the write went to the container's own upper layer, gone with it: the bundle is as it was
	[ ! -e "$MINE/written" ]
	run_split as_user srun --container="$MINE" --container-writable sh -c 'test -e /written || echo gone'
	[ "$output" = gone ]
	write_config Writable=false
	run_split as_user srun --container="$MINE" touch /written
	[ "$status" -ne 0 ]
	run_split as_user env SPANK_OCI_CONTAINER_WRITABLE=1 srun --container="$MINE" touch /written
	[ "$status" -eq 0 ]
	rm -f "$MINE/written"
}

@test "policy: a denied mount source is refused naming the rule; nothing submitted or run" {
	write_config "DeniedMountPrefixes=/etc" "AllowedMountPrefixes=$F/scratch"
	before="$(next_job_id)"
	assert_refused "spank-oci: mount source /etc/slurm is refused by the site policy (DeniedMountPrefixes=/etc in $CONFIG)" \
		as_user srun --container="$F/bundle" --container-mounts=/etc/slurm:/tmp/x touch "$WORK/marker"
	assert_refused "spank-oci: mount source /usr is refused by the site policy: not under AllowedMountPrefixes=$F/scratch in $CONFIG" \
		as_user sbatch --container="$F/bundle" --container-mounts=/usr:/tmp/x --wrap "touch $WORK/marker"
	[ "$(next_job_id)" -eq $((before + 1)) ]
	[ ! -e "$WORK/marker" ]
}

@test "policy: the node refuses what the client did not see (a link into a denied prefix)" {
	ln -sfn /etc "$F/scratch/etc-link"
	write_config "DeniedMountPrefixes=/etc"
	assert_refused "spank-oci: --container-mounts: mount source $F/scratch/etc-link (/etc) is refused by the site policy (DeniedMountPrefixes=/etc in $CONFIG)" \
		as_user srun --container="$F/bundle" --container-mounts="$F/scratch/etc-link:/tmp/x" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

# policy_bundle NAME KEY=JSON...: a bundle $F/scratch/NAME (the fixture's busybox rootfs)
# whose config.json is the fixture bundle's with these top-level keys set. Prints its path.
policy_bundle() {
	local b="$F/scratch/$1"
	shift
	rm -rf "$b"
	mkdir -p "$b"
	ln -sfn "$F/rootfs-only" "$b/rootfs"
	python3 - "$F/bundle/config.json" "$b/config.json" "$@" <<-'PY'
		import json, sys
		c = json.load(open(sys.argv[1]))
		for kv in sys.argv[3:]:
		    k, v = kv.split("=", 1)
		    c[k] = json.loads(v)
		json.dump(c, open(sys.argv[2], "w"))
	PY
	chmod -R a+rX "$b"
	echo "$b"
}

@test "policy: a bundle's own mounts are held to it (binds by real source, other types by AllowedBundleMountTypes)" {
	etc="$(policy_bundle bind-etc 'mounts=[{"destination": "/home", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}]')"
	link="$(policy_bundle bind-link 'mounts=[{"destination": "/home", "type": "none", "source": "etc-link", "options": ["rbind", "ro"]}]')"
	ln -s /etc "$link/etc-link"
	overlay="$(policy_bundle overlay-etc 'mounts=[{"destination": "/home", "type": "overlay", "source": "overlay", "options": ["lowerdir=/etc:/usr"]}]')"
	tmpfs="$(policy_bundle tmpfs 'mounts=[{"destination": "/home", "type": "tmpfs", "source": "tmpfs"}]')"
	# DeniedMountPrefixes=/etc refuses the bundle's bind of /etc as it does --container-mounts
	write_config "DeniedMountPrefixes=/etc"
	assert_refused "spank-oci: *$etc/config.json: the mount on /home: mount source /etc is refused by the site policy (DeniedMountPrefixes=/etc in $CONFIG)" \
		as_user srun --container="$etc" touch "$WORK/marker"
	assert_refused "spank-oci: *$link/config.json: the mount on /home: mount source etc-link (/etc) is refused by the site policy (DeniedMountPrefixes=/etc in $CONFIG)" \
		as_user srun --container="$link" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
	write_config
	# with no prefixes set, the bundle's binds are made, from their real sources (on /home,
	# which the rootfs has: no mount point to make)
	run_split as_user srun --container="$link" grep "^$SPANK_OCI_TEST_USER:" /home/passwd
	echo "$stderr" >&2 # shown if the test fails
	[ "$status" -eq 0 ]
	[ "$output" = "$(grep "^$SPANK_OCI_TEST_USER:" /etc/passwd)" ]
	# other types: only those with no host path behind them, by default
	assert_refused "spank-oci: *$overlay/config.json: the mount on /home: type overlay is refused by the site policy: not in AllowedBundleMountTypes (default tmpfs,devpts,mqueue,proc,sysfs, unset in $CONFIG)" \
		as_user srun --container="$overlay" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
	run_split as_user srun --container="$tmpfs" grep -c ' /home tmpfs ' /proc/self/mounts
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
}

# hooks_bundle: a bundle whose prestart and poststop hooks (host commands) leave marker
# files in $WORK. Prints its path.
hooks_bundle() {
	# (each reads the container's state that the runtime writes to its stdin, all of it)
	local hook='{"path": "/bin/sh", "args": ["sh", "-c", "/bin/cat >/dev/null; echo ran >>'"$WORK"'/hook-%s"]}'
	# shellcheck disable=SC2059 # the format is ours
	policy_bundle hooks "hooks={\"prestart\": [$(printf "$hook" prestart)], \"poststop\": [$(printf "$hook" poststop)]}"
}

@test "hooks: a bundle's hooks run only with BundleHooks=true, else one notice; DisableHooks drops kinds" {
	b="$(hooks_bundle)"
	rm -f "$WORK"/hook-*
	notice="spank-oci: notice: the bundle's hooks (prestart, poststop) are not run (BundleHooks=false in $CONFIG)"
	# by default: not run, one notice line on the task's stderr
	run_split as_user srun --container="$b" echo ok
	echo "$stderr" >&2 # shown if the test fails
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	[ "$(grep -cF "$notice" <<<"$stderr")" -eq 1 ]
	assert_no_leftovers
	[ ! -e "$WORK/hook-prestart" ]
	[ ! -e "$WORK/hook-poststop" ]
	# BundleHooks=true: they run, nothing said
	write_config BundleHooks=true
	run_split as_user srun --container="$b" echo ok
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
	[[ "$stderr" != *"hooks"* ]]
	assert_no_leftovers
	[ "$(cat "$WORK/hook-prestart")" = ran ]
	[ "$(cat "$WORK/hook-poststop")" = ran ]
	rm -f "$WORK"/hook-*
	# DisableHooks (Slurm's key): the hook types listed are not run
	write_config BundleHooks=true DisableHooks=poststop
	run_split as_user srun --container="$b" echo ok
	[ "$status" -eq 0 ]
	assert_no_leftovers
	[ "$(cat "$WORK/hook-prestart")" = ran ]
	[ ! -e "$WORK/hook-poststop" ]
	rm -f "$WORK"/hook-*
}

@test "policy: AllowRemapRoot=false refuses --container-remap-root" {
	write_config AllowRemapRoot=false
	before="$(next_job_id)"
	assert_refused "spank-oci: --container-remap-root is refused by the site policy (AllowRemapRoot=false in $CONFIG)" \
		as_user salloc --container="$F/bundle" --container-remap-root touch "$WORK/marker"
	[ "$(next_job_id)" -eq $((before + 1)) ]
	[ ! -e "$WORK/marker" ]
}

@test "option errors stop srun, sbatch and salloc before anything is submitted" {
	before="$(next_job_id)"
	assert_refused "spank-oci: --container-writable and --container-readonly exclude each other" \
		as_user srun --container="$F/bundle" --container-writable --container-readonly touch "$WORK/marker"
	assert_refused "spank-oci: --container-mounts: '/a:relative': the destination must be an absolute path" \
		as_user sbatch --container="$F/bundle" --container-mounts=/a:relative --wrap "touch $WORK/marker"
	assert_refused "spank-oci: --container-workdir: given twice with different values" \
		as_user salloc --container="$F/bundle" --container-workdir=/a --container-workdir=/b touch "$WORK/marker"
	assert_refused "spank-oci: SPANK_OCI_CONTAINER_REMAP_ROOT=yes: expected 0 or 1" \
		as_user env SPANK_OCI_CONTAINER_REMAP_ROOT=yes srun --container="$F/bundle" touch "$WORK/marker"
	[ "$(next_job_id)" -eq $((before + 1)) ]
	[ ! -e "$WORK/marker" ]
}

@test "srun --help documents every option" {
	run_split as_user srun --help
	for o in container-mounts=SRC:DST container-mount-home no-container-mount-home \
		container-workdir=DIR container-env=NAME container-remap-root \
		no-container-remap-root container-writable container-readonly container-entrypoint; do
		[[ "$output" == *"--$o"* ]] || { echo "missing --$o" >&2; return 1; }
	done
}

@test "sbatch options reach the batch script and its steps; a step's own option wins" {
	job="$(as_user sbatch --parsable --container-mounts="$DATA:/tmp/data" --container-remap-root \
		-o "$WORK/opts-%j.out" --wrap "srun --container=$F/bundle sh -c 'ls /tmp/data; id -u'
srun --container=$F/bundle --no-container-remap-root --container-mounts=$DATA:/tmp/other sh -c 'ls /tmp/other; ls /tmp/data 2>&1; id -u'")"
	wait_job "$job"
	out="$(batch_output "$WORK/opts-$job.out")"
	[ "$(sed -n 1,2p <<<"$out")" = "$(printf 'hello\n0')" ]
	[ "$(sed -n 3p <<<"$out")" = hello ]
	[[ "$(sed -n 4p <<<"$out")" == *"No such file or directory"* ]]
	[ "$(sed -n 5p <<<"$out")" = "$TEST_UID" ]
	# and in the batch script itself, when it runs in the container
	job="$(as_user sbatch --parsable --container="$F/bundle" --container-mounts="$DATA:/tmp/data" \
		--container-workdir=/bin -o "$WORK/opts-%j.out" --wrap 'ls /tmp/data; pwd')"
	wait_job "$job"
	[ "$(batch_output "$WORK/opts-$job.out")" = "$(printf 'hello\n/bin')" ]
}
