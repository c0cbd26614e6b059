#!/usr/bin/env bats
# The fault matrix: however a container task ends, nothing of it remains on the node (no
# process, no runtime state, no generated file) and the node stays usable. Each case adds
# a row to $SPANK_OCI_CLUSTER_DIR/fault-matrix.txt, printed at the end of the run.

load common

MATRIX="$SPANK_OCI_CLUSTER_DIR/fault-matrix.txt"
ENDLESS="$F/scratch/endless-img"
SLURMD_LOG="$SPANK_OCI_CLUSTER_DIR/slurm/slurmd.log"

setup_file() {
	write_config
}

teardown() {
	write_config # after the tests that change it
	if [ -n "${FEEDER:-}" ]; then
		kill "$FEEDER" 2>/dev/null || true
	fi
}

# endless_image: $ENDLESS, the busybox image (fixtures/layout:busybox) whose layer blob is
# a FIFO that gets a third of the layer and then nothing, ever (a stalled file system, a
# huge layer): its unpack never ends. The feeder's pid is in FEEDER (killed by teardown).
endless_image() {
	local manifest layer blob
	rm -rf "$ENDLESS"
	empty_dir "$CACHE"
	mkdir -p "$F/scratch"
	cp -a "$F/layout" "$ENDLESS"
	manifest="$(jq -r '.manifests[0].digest' "$ENDLESS/index.json" | cut -d: -f2)"
	layer="$(jq -r '.layers[0].digest' "$ENDLESS/blobs/sha256/$manifest" | cut -d: -f2)"
	blob="$ENDLESS/blobs/sha256/$layer"
	rm "$blob" && mkfifo -m 0644 "$blob"
	chmod -R a+rX "$ENDLESS"
	python3 -c '
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as out:
    out.write(data[: len(data) // 3])
    out.flush()
    time.sleep(600)
' "$F/layout/blobs/sha256/$layer" "$blob" </dev/null >/dev/null 2>&1 3>&- &
	FEEDER=$!
}

# start_unpack FILE SRUN_OPTION...: srun of the endless image in the background (its pid in
# SRUN, its output in FILE), once its unpack is under way; JOB is its job.
start_unpack() {
	local file=$1
	shift
	endless_image
	as_user srun "$@" --container="$ENDLESS:busybox" true >"$file" 2>&1 &
	# shellcheck disable=SC2034 # used in wait_until's code
	SRUN=$!
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until '[ -n "$(find "$CACHE" -maxdepth 3 -path "*/.unpacking-*/rootfs/*" 2>/dev/null)" ]' || {
		echo "no unpack under way in $CACHE:" >&2
		cat "$file" >&2
		return 1
	}
	# the newest job: an earlier test's may still be completing
	JOB="$(squeue -h -u "$SPANK_OCI_TEST_USER" -o %i | sort -n | tail -n 1)"
	[ -n "$JOB" ]
}

# task_ends_soon: the task of JOB (the user's process named slurmstepd: [JOB.0] on the command
# line) ends within a second or so of scancel, well before KillWait's SIGKILL.
task_ends_soon() {
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 3 '[ -z "$(pgrep -u "$SPANK_OCI_TEST_USER" -f "^slurmstepd: \[$JOB\.")" ]' || {
		echo "the task of job $JOB is still running 3 s after scancel:" >&2
		user_processes >&2
		return 1
	}
}

# stopped_unpack: the task of JOB stopped its unpack (its line in slurmd's log), the cache
# holds no image, whole or half, and srun ended.
stopped_unpack() {
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 15 '! kill -0 "$SRUN" 2>/dev/null' || {
		echo "srun still running" >&2
		return 1
	}
	grep -E "spank-oci: job $JOB step 0 task 0 \(uid $TEST_UID\): .*unpacking $ENDLESS:busybox: .*stopped by SIGTERM" "$SLURMD_LOG" >&2 || {
		echo "no stop of job $JOB in $SLURMD_LOG:" >&2
		grep "job $JOB " "$SLURMD_LOG" >&2
		return 1
	}
	if [ -n "$(find "$CACHE" -mindepth 1 -maxdepth 1 -type d)" ]; then
		echo "the image cache holds an image:" >&2
		ls -la "$CACHE" >&2
		return 1
	fi
}

# The processes that see a mount in the spool (the container's root overlay, a squashfs
# image): none once the tasks are gone, whatever mount namespace they are in.
spool_mounts() {
	grep -lF "$SPOOL" /proc/[0-9]*/mountinfo 2>/dev/null | wc -l
}

# What is left of the test user's containers: "none", or what was found: processes (a
# task's user and mount namespace lives only as long as one of its processes), files in
# the spool (the overlay's upper and work directories included), mounts in the spool seen
# by any process (the node's included), runtime state.
leftovers() {
	local procs files mounts state="" root
	for _ in $(seq 1 100); do
		procs="$(user_processes | grep -v -e ' srun' -e ' salloc' -e ' sbatch' | wc -l)"
		files="$(find "$SPOOL" -mindepth 1 2>/dev/null | wc -l)"
		mounts="$(spool_mounts)"
		[ "$procs" -eq 0 ] && [ "$files" -eq 0 ] && [ "$mounts" -eq 0 ] && break
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
	if [ "$procs" -eq 0 ] && [ "$files" -eq 0 ] && [ "$mounts" -eq 0 ] && [ -z "$state" ]; then
		echo none
	else
		echo "$procs processes, $files files, $mounts with mounts, state: ${state:-none}"
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
		find "$SPOOL" -mindepth 1 >&2 2>/dev/null
		grep -F "$SPOOL" /proc/[0-9]*/mountinfo >&2
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

@test "faults: scancel during unpack" {
	start_unpack "$WORK/f-unpack-scancel"
	scancel "$JOB"
	task_ends_soon
	stopped_unpack
	record "scancel during unpack" "cancelled, unpack stopped"
}

@test "faults: time limit during unpack" {
	# Slurm enforces time limits about once a minute: once, with runc, is enough
	[ "$RUNTIME" = runc ] || skip "run once, with runc (takes a minute)"
	start_unpack "$WORK/f-unpack-time" --time=0:03
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 100 '! kill -0 "$SRUN" 2>/dev/null' || true
	grep -q "DUE TO TIME LIMIT" "$WORK/f-unpack-time" || {
		cat "$WORK/f-unpack-time" >&2
		return 1
	}
	stopped_unpack
	record "time limit during unpack" "cancelled (time limit)"
}

@test "faults: srun killed during unpack" {
	start_unpack "$WORK/f-unpack-srun"
	for _ in $(seq 1 50); do
		pkill -9 -u "$SPANK_OCI_TEST_USER" -x srun || break
		sleep 0.1
	done
	[ -z "$(pgrep -u "$SPANK_OCI_TEST_USER" -x srun)" ]
	# the step goes on without its srun (InactiveLimit=0), unpacking, until cancelled
	sleep 1
	[ -n "$(squeue -h -j "$JOB")" ]
	scancel "$JOB"
	task_ends_soon
	stopped_unpack
	record "srun killed during unpack" "cancelled, unpack stopped"
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

@test "faults: scancel while running, the root on fuse-overlayfs" {
	write_config RootOverlay=fuse
	start_and_wait "$WORK/f-fuse-scancel" \
		as_user srun --container="$F/bundle" --container-mounts="$WORK:/data" sh -c 'echo started; sleep 300'
	[ -n "$(pgrep -u "$SPANK_OCI_TEST_USER" -x fuse-overlayfs)" ]
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	record "scancel, fuse-overlayfs root" "cancelled"
}

@test "faults: fuse-overlayfs killed under a running container" {
	write_config RootOverlay=fuse
	start_and_wait "$WORK/f-fuse-killed" \
		as_user srun --container="$F/bundle" sh -c 'echo started; sleep 2; ls /bin/sh'
	pkill -9 -u "$SPANK_OCI_TEST_USER" -x fuse-overlayfs
	wait || true
	# the container's root is gone: its next look at it fails (ENOTCONN, or SIGBUS for
	# what runs from it), and so does the task
	grep -q 'srun: error: .*task 0: ' "$WORK/f-fuse-killed" || {
		cat "$WORK/f-fuse-killed" >&2
		return 1
	}
	record "fuse-overlayfs killed" "task failed"
}

@test "faults: the root overlay cannot be mounted" {
	write_config RootOverlay=fuse RootOverlayFuse=/bin/false
	assert_refused "/bin/false ended with status 1 without mounting" \
		as_user srun --container="$F/bundle" true
	record "overlay mount fails" "exit $status, one-line error"
}
