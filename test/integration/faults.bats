#!/usr/bin/env bats
# The fault matrix: however a container task ends, nothing of it remains on the node (no
# process, no runtime state, no generated file) and the node stays usable. Each case adds
# a row to $SPANK_OCI_CLUSTER_DIR/fault-matrix.txt, printed at the end of the run.

load common

MATRIX="$SPANK_OCI_CLUSTER_DIR/fault-matrix.txt"

setup_file() {
	write_config
}

# What is left of the test user's containers: "none", or what was found.
leftovers() {
	local procs files state="" root
	for _ in $(seq 1 100); do
		procs="$(user_processes | grep -v -e ' srun' -e ' salloc' -e ' sbatch' | wc -l)"
		files="$(find "$SPOOL" -mindepth 1 2>/dev/null | wc -l)"
		[ "$procs" -eq 0 ] && [ "$files" -eq 0 ] && break
		sleep 0.1
	done
	# runtime state under any --root a step used
	for root in "$SPOOL"/*/runc "$SPOOL"/*/crun; do
		[ -d "$root" ] || continue
		case "$root" in
		*/runc) state+="$(runuser -u "$SPANK_OCI_TEST_USER" -- runc --root "$root" list -q)" ;;
		*/crun) state+="$(runuser -u "$SPANK_OCI_TEST_USER" -- crun --root="$root" list -q)" ;;
		esac
	done
	if [ "$procs" -eq 0 ] && [ "$files" -eq 0 ] && [ -z "$state" ]; then
		echo none
	else
		echo "$procs processes, $files files, state: ${state:-none}"
	fi
}

# record CASE RESULT: checks and records what is left and the node's state.
record() {
	local left node
	left="$(leftovers)"
	node="$(sinfo -h -o %T)"
	printf '%-12s | %-30s | %-26s | %-5s | %s\n' "$RUNTIME" "$1" "$2" "$node" "$left" >>"$MATRIX"
	[ "$left" = none ] || {
		echo "leftovers: $left" >&2
		user_processes >&2
		return 1
	}
	assert_node_idle
}

# Waits until the container of a background step runs ("started" in file $1).
wait_started() {
	for _ in $(seq 1 100); do
		grep -q started "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}

@test "faults: normal exit" {
	run_split as_user srun --container="$F/bundle" true
	[ "$status" -eq 0 ]
	record "normal exit" "exit 0"
}

@test "faults: non-zero exit" {
	run_split as_user srun --container="$F/bundle" sh -c 'exit 3'
	[ "$status" -eq 3 ]
	record "non-zero exit" "exit 3"
}

@test "faults: container killed by SIGKILL from inside" {
	run_split as_user srun --container="$F/bundle" sh -c 'kill -9 $$'
	[ "$status" -eq 137 ]
	[[ "$stderr" == *"task 0: Killed"* ]]
	record "SIGKILL from inside" "Killed (137)"
}

@test "faults: scancel while running" {
	as_user srun --container="$F/bundle" sh -c 'echo started; sleep 300' >"$WORK/f-scancel" 2>&1 &
	wait_started "$WORK/f-scancel"
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	grep -q CANCELLED "$WORK/f-scancel"
	record "scancel while running" "cancelled"
}

@test "faults: srun itself killed with SIGKILL" {
	as_user srun --container="$F/bundle" sh -c 'echo started; sleep 2' >"$WORK/f-srun" 2>&1 &
	wait_started "$WORK/f-srun"
	for _ in $(seq 1 50); do
		pkill -9 -u "$SPANK_OCI_TEST_USER" -x srun || break
		sleep 0.1
	done
	wait || true
	[ -z "$(pgrep -u "$SPANK_OCI_TEST_USER" -x srun)" ]
	# the step runs on without its srun, ends, and leaves nothing
	for _ in $(seq 1 100); do
		[ -z "$(pgrep -u "$SPANK_OCI_TEST_USER" -x sleep)" ] && break
		sleep 0.1
	done
	[ "$(leftovers)" = none ]
	# the allocation srun made stays until cancelled (InactiveLimit=0)
	scancel -u "$SPANK_OCI_TEST_USER"
	for _ in $(seq 1 100); do
		[ -z "$(squeue -h -u "$SPANK_OCI_TEST_USER")" ] && break
		sleep 0.1
	done
	record "srun killed with SIGKILL" "step ended, job cancelled"
}

@test "faults: job time limit reached" {
	# Slurm enforces time limits about once a minute: once, with runc, is enough
	[ "$RUNTIME" = runc ] || skip "run once, with runc (takes a minute)"
	run_split as_user srun --time=0:03 --container="$F/bundle" sleep 300
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"DUE TO TIME LIMIT"* ]]
	record "time limit reached" "cancelled (time limit)"
}

@test "faults: the runtime binary is missing" {
	write_config
	sed -i -e 's#/usr/sbin/runc #/nonexistent/runtime #' -e 's#/usr/bin/crun #/nonexistent/runtime #' "$CONFIG"
	run_split as_user srun --container="$F/bundle" true
	write_config
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"spank-oci: runtime /nonexistent/runtime: No such file or directory"* ]]
	record "runtime binary missing" "exit 1, one-line error"
}

@test "faults: the runtime fails at create" {
	bundle="$(make_bad_mount_bundle)"
	run_split as_user srun --container="$bundle" true
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"spank-oci: "* ]]
	record "runtime fails at create" "exit $status, runtime's error"
}

@test "faults: a daemon (double fork) outlives the main process" {
	run_split as_user srun --container="$F/bundle" sh -c '(setsid sleep 300 </dev/null &); echo started'
	[ "$status" -eq 0 ]
	[ "$output" = started ]
	record "double-forked daemon outlives" "exit 0, daemon killed"
}
