#!/usr/bin/env bats
# Where a step's files go: the user's own directories that slurmstepd makes (no other
# user can take their names first), and the sweep after a step, which must find them
# under the name the tasks gave them (%n).

load common

NODE="$(hostname -s)" # the test cluster's NodeName
SQUATTER="$SPANK_OCI_TEST_USER_NOSUB"

setup_file() {
	write_config
}

teardown() {
	write_config # after the tests that change it
	scancel -u "$SPANK_OCI_TEST_USER" 2>/dev/null || true
	rm -rf "/dev/shm/spank-oci-$TEST_UID" "/tmp/spank-oci-images-$TEST_UID" "$WORK/nspool"
	# as scripts/lib.sh's node_setup leaves them, for spank-oci outside Slurm in later tests
	for d in "$SPOOL" "$CACHE"; do
		[ -d "$d" ] || install -d -o "$SPANK_OCI_TEST_USER" -g "$(id -g "$SPANK_OCI_TEST_USER")" -m 0700 "$d"
	done
}

# kill_tree PID: SIGKILL to PID and its descendants, stopped first so none escapes.
kill_tree() {
	local child
	kill -STOP "$1" 2>/dev/null || true
	for child in $(pgrep -P "$1"); do kill_tree "$child"; done
	kill -KILL "$1" 2>/dev/null || true
}

@test "dirs: another user's directory under the old default names stops no container task" {
	# anyone could make the names the defaults once were, before the user's first step
	rm -rf "/dev/shm/spank-oci-$TEST_UID" "/tmp/spank-oci-images-$TEST_UID"
	runuser -u "$SQUATTER" -- mkdir -m 0700 "/dev/shm/spank-oci-$TEST_UID" "/tmp/spank-oci-images-$TEST_UID"
	# nobody can take the new ones: the parents are root's (made anew below, by slurmstepd)
	rm -rf /run/spank-oci /var/cache/spank-oci
	run runuser -u "$SQUATTER" -- mkdir "$SPOOL"
	[ "$status" -ne 0 ]
	run runuser -u "$SQUATTER" -- mkdir "$CACHE"
	[ "$status" -ne 0 ]
	# a bundle (ContainerPath) and an image (ImageCache too) run
	run_split as_user srun --container="$F/bundle" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
	run_split as_user srun --container="$F/layout:busybox" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
	# slurmstepd made them: root's parents, the user's own directories
	[ "$(stat -c '%U:%G %a' /run/spank-oci /var/cache/spank-oci)" = "$(printf 'root:root 755\nroot:root 755')" ]
	[ "$(stat -c '%U %a' "$SPOOL" "$CACHE")" = "$(printf '%s 700\n%s 700' "$SPANK_OCI_TEST_USER" "$SPANK_OCI_TEST_USER")" ]
	assert_no_leftovers
}

@test "dirs: a site's ContainerPath in /dev/shm works as before; a squatted one is named" {
	rm -rf "/dev/shm/spank-oci-$TEST_UID"
	write_config 'ContainerPath=/dev/shm/spank-oci-%U/%j.%s'
	run_split as_user srun --container="$F/bundle" true
	[ "$status" -eq 0 ]
	rm -rf "/dev/shm/spank-oci-$TEST_UID"
	runuser -u "$SQUATTER" -- mkdir -m 0700 "/dev/shm/spank-oci-$TEST_UID"
	# the component at fault, not the whole path (/dev/shm/spank-oci-<uid>/<job>.<step>)
	assert_refused "spank-oci: *: /dev/shm/spank-oci-$TEST_UID belongs to uid $(id -u "$SQUATTER"), not to you: refusing to use it" \
		as_user srun --container="$F/bundle" touch "$WORK/marker"
	[[ "$stderr" != *"/dev/shm/spank-oci-$TEST_UID/"* ]]
	[ ! -e "$WORK/marker" ]
}

@test "dirs: spank-oci run outside Slurm before any step: XDG_RUNTIME_DIR, else what to do" {
	rm -rf "$SPOOL"
	assert_refused "spank-oci: $SPOOL does not exist: slurmstepd makes it when a container step of yours starts on this node; outside Slurm set XDG_RUNTIME_DIR, or ContainerPath" \
		as_user "$REPO/build/spank-oci" run --config "$CONFIG" --bundle "$F/bundle" true
	xdg="$WORK/xdg-run"
	rm -rf "$xdg"
	# as pam_systemd makes it: the user's, with the user's group (runc's init, the
	# container's uid 0, passes a 0700 directory only when it maps its owner and group)
	install -d -o "$SPANK_OCI_TEST_USER" -g "$(id -g "$SPANK_OCI_TEST_USER")" -m 0700 "$xdg"
	run_split as_user env XDG_RUNTIME_DIR="$xdg" "$REPO/build/spank-oci" run --config "$CONFIG" \
		--bundle "$F/bundle" grep ^NAME /etc/os-release
	[ "$status" -eq 0 ]
	[ "$output" = 'NAME="spank-oci busybox"' ]
	[ -d "$xdg/spank-oci" ]
	[ -z "$(ls -A "$xdg/spank-oci")" ]
	[ ! -e "$SPOOL" ]
}

# %n is the node's name as Slurm gives it to the tasks. In a batch job, srun's environment
# holds SLURMD_NODENAME of the batch host, which on the job's other nodes is not theirs: the
# script sets it to such a name, as there. The sweep must use the tasks' name all the same.
@test "dirs: %n in ContainerPath: the sweep after a batch job's step finds what a killed task left" {
	spool="$WORK/nspool"
	rm -rf "$spool"
	write_config "ContainerPath=$spool/%n/%j.%s"
	cat >"$WORK/nbatch.sh" <<-EOF
		#!/bin/bash
		export SLURMD_NODENAME=batch-host-elsewhere
		srun --container="$F/bundle" sh -c 'echo started; exec sleep 300'
	EOF
	chmod 0755 "$WORK/nbatch.sh"
	rm -f "$WORK/nbatch.out"
	job="$(as_user sbatch --parsable -o "$WORK/nbatch.out" "$WORK/nbatch.sh")"
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 30 'grep -q started "$WORK/nbatch.out" 2>/dev/null' || {
		cat "$WORK/nbatch.out" >&2
		return 1
	}
	# the task's files are under the node's name
	[ -d "$spool/$NODE/$job.0" ]
	# the task dies with its container as a step's processes do when its cleanup hangs past
	# KillWait (proctrack/cgroup's SIGKILL to them all): what they left is the sweep's
	task="$(pgrep -u "$SPANK_OCI_TEST_USER" -x spank-oci-task)"
	[ -n "$task" ]
	kill_tree "$task"
	scancel "$job"
	wait_job "$job"
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until '[ -z "$(ls -A "$spool/$NODE" 2>/dev/null)" ]' || {
		echo "left under $spool:" >&2
		find "$spool" >&2
		return 1
	}
	assert_no_leftovers
}
