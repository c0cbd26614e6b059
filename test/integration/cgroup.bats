#!/usr/bin/env bats
# cgroup v2 containment, on this machine's real cgroup2 file system: Slurm 22.05's v2
# layout (job_<j>/step_<s>/user/task_<t>, task_<t> handed to the user) is built by the
# test as root, `spank-oci run` is started in task_<t> as the user (as slurmstepd starts
# a task), and every process of the container is checked from outside.

load common

CLI="$REPO/build/spank-oci"

setup_file() {
	write_config
}

setup() {
	CG="$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)"
	[ -n "$CG" ] || skip "no cgroup2 file system mounted"
	REL="/spank-oci-bats-$$-$BATS_TEST_NUMBER/job_1/step_0"
	TASK="$CG$REL/user/task_0"
	mkdir -p "$CG$REL/slurm" "$TASK"
	# what Slurm 22.05's cgroup/v2 does for the task cgroup
	chown "$SPANK_OCI_TEST_USER" "$TASK" "$TASK/cgroup.procs" "$TASK/cgroup.subtree_control"
	rm -f "$WORK/cg-pids" "$WORK/started"
}

teardown() {
	write_config # after the tests that change it
	[ -n "${CG:-}" ] || return 0
	pkill -9 -u "$SPANK_OCI_TEST_USER" || true # only after a failure
	wait || true
	find "$CG/spank-oci-bats-$$-$BATS_TEST_NUMBER" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	[ ! -e "$CG/escape" ]
}

# Starts `spank-oci run` in the task cgroup, as the user; the container starts two
# sleeps (one double-forked away) and reports when they run.
start_in_task_cgroup() {
	start_and_wait "$WORK/started" run_in_task_cgroup "$1"
	wait_until '[ "$(pgrep -u "$SPANK_OCI_TEST_USER" -x sleep | wc -l)" -ge 2 ]'
}

run_in_task_cgroup() {
	cd "$WORK" && "$REPO/scripts/node-ns" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' \
		sh "$TASK" runuser -u "$SPANK_OCI_TEST_USER" -- "$CLI" run --config "$CONFIG" \
		--bundle "$1" -- sh -c '(setsid sleep 300 &); sleep 300 & echo started >&2; wait'
}

# Ends the container's main process (sh, by ending the sleep it waits for); the
# double-forked sleep outlives it and must be killed by spank-oci; nothing may remain.
end_container() {
	local sh
	sh="$(pgrep -u "$SPANK_OCI_TEST_USER" -x sh)"
	pkill -u "$SPANK_OCI_TEST_USER" -P "$sh" -x sleep
	wait
	assert_no_leftovers
}

# Every process of the test user (the supervisor, the runtime, the container) must be
# in the task's cgroup or below it.
assert_all_in_task_cgroup() {
	local pid path n=0
	# Slurm clients of other tests are not the container's
	for pid in $(pgrep -u "$SPANK_OCI_TEST_USER" | grep -vxF -f <(pgrep -u "$SPANK_OCI_TEST_USER" -x 'srun|salloc|sbatch' || true)); do
		path="$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null)" || continue
		[ -n "$path" ] || continue
		# a zombie is no container process (an orphan waits for init to reap it)
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] || continue
		n=$((n + 1))
		case "$path" in
		"$REL/user/task_0" | "$REL/user/task_0/"*) ;;
		*)
			echo "pid $pid ($(cat "/proc/$pid/comm")) is in $path, not in $REL/user/task_0" >&2
			return 1
			;;
		esac
	done
	[ "$n" -ge 4 ] # at least the supervisor, the runtime, sh and two sleeps
}

@test "cgroup: every container process stays in the task's cgroup" {
	start_in_task_cgroup "$F/bundle"
	assert_all_in_task_cgroup
	[ "$(pgrep -u "$SPANK_OCI_TEST_USER" -x sleep | wc -l)" -eq 2 ]
	end_container
}

@test "cgroup: a config.json whose cgroupsPath is /escape does not escape" {
	mkdir -p "$F/scratch/escape"
	ln -sfn "$F/rootfs-only" "$F/scratch/escape/rootfs"
	python3 - "$F/bundle/config.json" "$F/scratch/escape/config.json" <<-'PY'
		import json, sys
		c = json.load(open(sys.argv[1]))
		c.setdefault("linux", {})["cgroupsPath"] = "/escape"
		c["linux"]["resources"] = {"pids": {"limit": 100}}
		json.dump(c, open(sys.argv[2], "w"))
	PY
	chmod -R a+rX "$F/scratch"
	start_in_task_cgroup "$F/scratch/escape"
	assert_all_in_task_cgroup
	[ ! -e "$CG/escape" ]
	end_container
}

@test "cgroup: CgroupPerContainer puts the container in a child of the task's cgroup, removed after" {
	write_config CgroupPerContainer=true
	start_in_task_cgroup "$F/bundle"
	assert_all_in_task_cgroup
	child="$(ls -d "$TASK"/spank-oci.*)"
	# the container (sh and both sleeps) is in the child; the supervisor stays in task_0
	for pid in $(pgrep -u "$SPANK_OCI_TEST_USER" -x sleep) $(pgrep -u "$SPANK_OCI_TEST_USER" -x sh); do
		grep -qx "0::$REL/user/task_0/$(basename "$child")" "/proc/$pid/cgroup"
	done
	grep -qx "0::$REL/user/task_0" "/proc/$(pgrep -u "$SPANK_OCI_TEST_USER" -x spank-oci)/cgroup"
	end_container
	[ ! -e "$child" ]
}
