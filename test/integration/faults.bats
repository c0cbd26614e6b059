#!/usr/bin/env bats
# The fault matrix: however a container task ends, nothing of it remains on the node (no
# process, no runtime state, no generated file) and the node stays usable. Each case adds
# a row to $SPANK_OCI_CLUSTER_DIR/fault-matrix.txt, printed at the end of the run.

load common

MATRIX="$SPANK_OCI_CLUSTER_DIR/fault-matrix.txt"

setup_file() {
	write_config
}

teardown() {
	write_config # after the tests that change it
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
	start_and_wait "$WORK/f-scancel" \
		as_user srun --container="$F/bundle" sh -c 'echo started; sleep 300'
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	# slurmstepd's CANCELLED line may lose the race with srun's end under load; srun's own
	# "Job step aborted" says the same
	grep -q -e CANCELLED -e 'Job step aborted' "$WORK/f-scancel" || {
		cat "$WORK/f-scancel" >&2
		return 1
	}
	record "scancel while running" "cancelled"
}

@test "faults: srun itself killed with SIGKILL" {
	start_and_wait "$WORK/f-srun" \
		as_user srun --container="$F/bundle" sh -c 'echo started; sleep 2'
	for _ in $(seq 1 50); do
		pkill -9 -u "$SPANK_OCI_TEST_USER" -x srun || break
		sleep 0.1
	done
	wait || true
	[ -z "$(pgrep -u "$SPANK_OCI_TEST_USER" -x srun)" ]
	# the step runs on without its srun, ends, and leaves nothing
	wait_until '[ -z "$(pgrep -u "$SPANK_OCI_TEST_USER" -x sleep)" ]' || true
	[ "$(leftovers)" = none ]
	# the allocation srun made stays until cancelled (InactiveLimit=0)
	scancel -u "$SPANK_OCI_TEST_USER"
	wait_until '[ -z "$(squeue -h -u "$SPANK_OCI_TEST_USER")" ]' || true
	record "srun killed with SIGKILL" "step ended, job cancelled"
}

@test "faults: job time limit reached" {
	# Slurm enforces time limits about once a minute: once, with runc, is enough
	[ "$RUNTIME" = runc ] || skip "run once, with runc (takes a minute)"
	assert_refused "DUE TO TIME LIMIT" as_user srun --time=0:03 --container="$F/bundle" sleep 300
	record "time limit reached" "cancelled (time limit)"
}

@test "faults: the runtime binary is missing" {
	sed -i -e 's#/usr/sbin/runc #/nonexistent/runtime #' -e 's#/usr/bin/crun #/nonexistent/runtime #' "$CONFIG"
	assert_refused "spank-oci: runtime /nonexistent/runtime: No such file or directory" \
		as_user srun --container="$F/bundle" true
	[ "$status" -eq 1 ]
	record "runtime binary missing" "exit 1, one-line error"
}

@test "faults: the runtime fails at create" {
	bundle="$(make_bad_mount_bundle)"
	assert_refused "spank-oci: " as_user srun --container="$bundle" true
	record "runtime fails at create" "exit $status, runtime's error"
}

@test "faults: a daemon (double fork) outlives the main process" {
	run_split as_user srun --container="$F/bundle" sh -c '(setsid sleep 300 </dev/null &); echo started'
	[ "$status" -eq 0 ]
	[ "$output" = started ]
	record "double-forked daemon outlives" "exit 0, daemon killed"
}
