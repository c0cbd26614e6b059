#!/usr/bin/env bats
# srun, sbatch and salloc --container against the real local Slurm, as an ordinary user.

load common

setup_file() {
	write_config
	# distinct bundles, to tell which one a task ran in
	for b in B1 C2 D3 E5; do
		mkdir -p "$F/scratch/$b"
		[ -e "$F/scratch/$b/rootfs" ] || cp -a "$F/rootfs-only" "$F/scratch/$b/rootfs"
		echo "$b" >"$F/scratch/$b/rootfs/etc/fixture-name"
	done
	make_slurm_client_bundle "$F/scratch/SC"
	chmod -R a+rX "$F/scratch"
}

# A bundle that is a Slurm client: the node's /usr, the munge socket, the cluster's
# configuration files and the plugin bound in, name resolution and users copied. Its
# root file system belongs to the test user, so the runtime can make the batch script's
# mount point there whichever id is root inside.
make_slurm_client_bundle() {
	local b=$1 f
	rm -rf "$b" # it binds this tree's build/: never reuse one made from another clone
	mkdir -p "$b"
	cp -a "$F/rootfs-only" "$b/rootfs"
	mkdir -p "$b/rootfs/usr" "$b/rootfs/run/munge" "$b/rootfs$SPANK_OCI_CLUSTER_DIR/slurm" "$b/rootfs$REPO/build"
	for f in slurm/slurm.conf plugstack.conf spank-oci.conf; do
		touch "$b/rootfs$SPANK_OCI_CLUSTER_DIR/$f"
	done
	ln -s usr/lib "$b/rootfs/lib"
	ln -s usr/lib64 "$b/rootfs/lib64"
	cp /etc/passwd /etc/group /etc/hosts /etc/nsswitch.conf "$b/rootfs/etc/"
	cp -L /etc/resolv.conf "$b/rootfs/etc/" 2>/dev/null || true
	echo SC >"$b/rootfs/etc/fixture-name"
	chown -R "$SPANK_OCI_TEST_USER:" "$b/rootfs"
	python3 - "$b/config.json" "$SPANK_OCI_CLUSTER_DIR" "$REPO/build" <<-'PY'
		import json, sys
		def bind(path, ro=True):
		    return {"destination": path, "type": "bind", "source": path,
		            "options": ["rbind"] + (["ro"] if ro else [])}
		d = sys.argv[2]
		json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
		           "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/usr/bin:/bin"]},
		           "mounts": [bind("/usr"), bind("/run/munge", False), bind(sys.argv[3])] +
		                     [bind(d + "/" + f) for f in
		                      ("slurm/slurm.conf", "plugstack.conf", "spank-oci.conf")]},
		          open(sys.argv[1], "w"))
	PY
}

teardown() {
	write_config # after the tests that change it
	[ ! -d "$F/scratch/private" ] || chmod 0755 "$F/scratch/private"
	rm -rf "$WORK/etc-bad-plugstack"
	assert_no_leftovers
	assert_node_idle
}

@test "srun --container prints the container's os-release, not the host's" {
	run_split as_user srun --container="$F/bundle" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
	! grep -q 'spank-oci busybox' /etc/os-release
}

@test "sbatch --container runs the batch script in the container" {
	job="$(as_user sbatch --parsable --container="$F/bundle" -o "$WORK/sbatch-%j.out" \
		--wrap 'grep ^NAME /etc/os-release')"
	wait_job "$job"
	[ "$(batch_output "$WORK/sbatch-$job.out")" = 'NAME="spank-oci busybox"' ]
	scontrol show job "$job" | grep -q 'ExitCode=0:0'
}

@test "salloc --container runs its command in the container" {
	run_split as_user salloc --container="$F/bundle" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
}

@test "a rootfs directory without config.json works as a container" {
	run_split as_user srun --container="$F/rootfs-only" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
}

@test "the exit status of the container is the task's" {
	run_split as_user srun --container="$F/bundle" sh -c 'exit 3'
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"task 0: Exited with exit code 3"* ]]
}

@test "a container killed by a signal is reported as Slurm reports a host task" {
	run_split as_user srun sh -c 'kill -9 $$'
	host_status=$status
	host_stderr=$stderr
	run_split as_user srun --container="$F/bundle" sh -c 'kill -9 $$'
	[ "$status" -eq "$host_status" ]
	[[ "$host_stderr" == *"task 0: Killed"* ]]
	[[ "$stderr" == *"task 0: Killed"* ]]
}

@test "stdin reaches the container and end of file ends it" {
	run bash -c "cd '$WORK' && echo hi | runuser -u '$SPANK_OCI_TEST_USER' -- \
		env SLURM_CONF='$SLURM_CONF' srun --container='$F/bundle' cat"
	[ "$status" -eq 0 ]
	[ "$output" = "hi" ]
}

@test "stdout and stderr stay separate" {
	run_split as_user srun --container="$F/bundle" sh -c 'echo out; echo err >&2'
	[ "$status" -eq 0 ]
	[ "$output" = "out" ]
	[[ "$stderr" == *err* ]]
	[[ "$stderr" != *out* ]]
}

@test "srun -n 4 runs 4 containerized tasks on one node, each with its own SLURM_PROCID" {
	run_split as_user srun -n 4 --container="$F/bundle" sh -c 'echo "$SLURM_PROCID $(cat /etc/fixture-name 2>/dev/null || grep ^NAME /etc/os-release)"'
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | sort)" = "$(printf '%s NAME="spank-oci busybox"\n' 0 1 2 3)" ]
}

@test "the job's environment and working directory reach the container" {
	run_split as_user env MY_VAR='a b' srun --chdir=/tmp --container="$F/bundle" \
		sh -c 'echo "$SLURM_JOB_ID|$MY_VAR|$(pwd)|$BUNDLE_ONLY_VAR"'
	[ "$status" -eq 0 ]
	IFS='|' read -r jobid myvar cwd bundlevar <<<"$output"
	[[ "$jobid" =~ ^[0-9]+$ ]]
	[ "$myvar" = "a b" ]
	[ "$cwd" = "/tmp" ]
	# the bundle's own variables fill what the task does not set
	[ "$bundlevar" = "from-bundle" ]
}

@test "a working directory missing in the container becomes /" {
	run_split as_user srun --chdir="$WORK" --container="$F/bundle" pwd
	[ "$status" -eq 0 ]
	[ "$output" = "/" ]
}

@test "inheritance: an explicit --container beats an inherited SLURM_CONTAINER" {
	run_split as_user env SLURM_CONTAINER="$F/scratch/B1" srun --container="$F/scratch/C2" cat /etc/fixture-name
	[ "$status" -eq 0 ]
	[ "$output" = "C2" ]
}

@test "inheritance: without --container a step inherits SLURM_CONTAINER" {
	run_split as_user env SLURM_CONTAINER="$F/scratch/B1" srun cat /etc/fixture-name
	[ "$status" -eq 0 ]
	[ "$output" = "B1" ]
}

@test "inheritance: sbatch --container beats an inherited SLURM_CONTAINER" {
	job="$(as_user env SLURM_CONTAINER="$F/scratch/B1" sbatch --parsable \
		--container="$F/scratch/D3" -o "$WORK/inherit-%j.out" --wrap 'cat /etc/fixture-name')"
	wait_job "$job"
	[ "$(batch_output "$WORK/inherit-$job.out")" = "D3" ]
}

@test "inheritance: SRUN_CONTAINER and SBATCH_CONTAINER beat an inherited SLURM_CONTAINER" {
	run_split as_user env SLURM_CONTAINER="$F/scratch/B1" SRUN_CONTAINER="$F/scratch/E5" srun cat /etc/fixture-name
	[ "$status" -eq 0 ]
	[ "$output" = "E5" ]
	job="$(as_user env SLURM_CONTAINER="$F/scratch/B1" SBATCH_CONTAINER="$F/scratch/D3" \
		sbatch --parsable -o "$WORK/env-%j.out" --wrap 'cat /etc/fixture-name')"
	wait_job "$job"
	[ "$(batch_output "$WORK/env-$job.out")" = "D3" ]
}

@test "inheritance: the steps of a containerized batch job inherit its container" {
	# srun inside the container must be the user's own uid (munge): crun runs the user as
	# themselves, runc does with the user's subordinate ids (the test user has a range)
	job="$(as_user env SLURM_CONTAINER="$F/scratch/B1" sbatch --parsable \
		--container="$F/scratch/SC" -o "$WORK/steps-%j.out" --wrap "cat /etc/fixture-name
srun cat /etc/fixture-name
srun --container=$F/scratch/C2 cat /etc/fixture-name
srun --no-container grep ^NAME /etc/os-release")"
	wait_job "$job"
	[ "$(batch_output "$WORK/steps-$job.out")" = "$(printf 'SC\nSC\nC2\n%s' "$(grep ^NAME /etc/os-release)")" ]
}

@test "--no-container runs one step on the host despite an inherited container" {
	run_split as_user env SLURM_CONTAINER="$F/scratch/B1" srun --no-container grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = "$(grep ^NAME /etc/os-release)" ]
	assert_refused "--container and --no-container exclude each other" \
		as_user srun --container="$F/scratch/B1" --no-container true
}

@test "scancel of a running container step leaves nothing behind" {
	start_and_wait "$WORK/scancel.out" \
		as_user srun --container="$F/bundle" sh -c 'echo started; sleep 300'
	pgrep -u "$SPANK_OCI_TEST_USER" -x sleep
	[ -n "$(ls -A "$SPOOL")" ] # generated files exist while it runs
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	# teardown asserts: no process, no runtime state, no generated files
}

@test "a bundle path with a space and \$(touch ...) is data, not shell" {
	bundle="$F/my bundle/\$(touch x)"
	[ -d "$bundle/rootfs" ]
	run_split as_user srun --container="$bundle" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
	[ ! -e "$WORK/x" ]
	[ ! -e /x ]
	[ ! -e "$F/my bundle/x" ]
	[ ! -e "/home/$SPANK_OCI_TEST_USER/x" ]
}

# Error cases: one line from spank-oci on the user's stderr, a non-zero exit, and
# nothing run on the host (the command would create a marker file there).

@test "error: a missing bundle" {
	assert_refused "spank-oci: bundle /nonexistent/bundle: No such file or directory" \
		as_user srun --container=/nonexistent/bundle touch "$WORK/marker"
	[ "$(grep -c '^spank-oci: ' <<<"$stderr")" -eq 1 ]
	[ ! -e "$WORK/marker" ]
}

@test "error: a container path longer than a path may be fails the task, never runs it on the host" {
	# longer than the buffer a plugin reads SLURM_CONTAINER into (PATH_MAX): it ran on the host
	long=$(printf '/%.0s' $(seq 1 4200))$F/bundle
	assert_refused "spank-oci: bundle " as_user srun --container="$long" touch "$WORK/long-marker"
	[[ "$stderr" == *"File name too long"* ]]
	[ ! -e "$WORK/long-marker" ]
}

@test "error: an unreadable bundle" {
	mkdir -p "$F/scratch/private/rootfs/bin"
	chmod 0700 "$F/scratch/private"
	assert_refused "spank-oci: bundle $F/scratch/private: Permission denied" \
		as_user srun --container="$F/scratch/private" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "error: a bundle without rootfs" {
	mkdir -p "$F/scratch/norootfs"
	cp "$F/bundle/config.json" "$F/scratch/norootfs/"
	chmod -R a+rX "$F/scratch/norootfs"
	assert_refused "spank-oci: bundle $F/scratch/norootfs has no rootfs" \
		as_user srun --container="$F/scratch/norootfs" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "error: the runtime binary is absent" {
	sed -i -e 's#/usr/sbin/runc #/nonexistent/runtime #' -e 's#/usr/bin/crun #/nonexistent/runtime #' "$CONFIG"
	assert_refused "spank-oci: runtime /nonexistent/runtime: No such file or directory" \
		as_user srun --container="$F/bundle" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "error: the runtime fails to create the container" {
	bundle="$(make_bad_mount_bundle)"
	assert_refused "spank-oci: ${RUNTIME%%-*}*: " as_user srun --container="$bundle" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "error: a bad configuration names file:line" {
	echo 'NoSuchKey=1' >>"$CONFIG"
	line="$(wc -l <"$CONFIG")"
	assert_refused "spank-oci: $CONFIG:$line: unknown key 'NoSuchKey': 'NoSuchKey=1'" \
		as_user srun --container="$F/bundle" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
	grep -q "spank-oci: .*unknown key 'NoSuchKey'" "$SPANK_OCI_CLUSTER_DIR/slurm/slurmd.log"
}

@test "error: an unknown plugin argument in plugstack.conf stops srun" {
	etc="$WORK/etc-bad-plugstack"
	mkdir -p "$etc"
	sed "s#^PlugStackConfig=.*#PlugStackConfig=$etc/plugstack.conf#" "$SLURM_CONF" >"$etc/slurm.conf"
	echo "required $REPO/build/spank_oci.so config=$CONFIG bogus=1" >"$etc/plugstack.conf"
	chmod -R a+rX "$etc"
	assert_refused "spank-oci: unknown plugin argument 'bogus=1' in plugstack.conf" \
		as_user env SLURM_CONF="$etc/slurm.conf" srun --container="$F/bundle" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "DisableCleanup=true keeps the generated files, and no runtime state" {
	write_config DisableCleanup=true
	# shellcheck disable=SC2016 # expanded in the container
	run_split as_user srun --container="$F/bundle" sh -c 'echo $SLURM_JOB_ID'
	[ "$status" -eq 0 ]
	# srun returns with the tasks; the step's slurmstepd (shared mode: it stops the
	# container) ends before the job leaves the queue
	wait_job "$output"
	files="$(cd "$SPOOL" && find . -type f | sort)"
	empty_dir "$SPOOL"
	case $RUNTIME in
	*-shared) [[ "$files" == *"/shared/config.json"* ]] ;; # the step's container's
	*) [[ "$files" == *"/task.0/config.json"* ]] ;;
	esac
	[[ "$files" != *"state.json"* ]]
}

@test "a step without --container is untouched by the plugin" {
	run_split as_user srun grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = "$(grep ^NAME /etc/os-release)" ]
}
