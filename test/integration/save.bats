#!/usr/bin/env bats
# --container-save=PATH: the container's root (the image with what the container changed in
# its own overlay layer) saved as a squashfs image when the step ends, usable with
# --container=PATH.

load common

MINE="$F/scratch/save-mine" # a root filesystem that belongs to the test user

setup_file() {
	write_config
	mkdir -p "$F/scratch"
	rm -rf "$MINE"
	cp -a "$F/rootfs-only" "$MINE"
	chown -R "$SPANK_OCI_TEST_USER:" "$MINE"
	chmod -R a+rX "$F/scratch"
}

setup() {
	rm -f "$WORK"/*.sqsh
}

teardown() {
	write_config
	rm -f "$WORK"/*.sqsh
	assert_no_leftovers
	assert_node_idle
}

@test "--container-save: what the step wrote is in the image it saved, the bundle unchanged" {
	(cd "$MINE" && find . -printf '%p %u %g %m %s %T@\n' | sort) >"$BATS_TEST_TMPDIR/before"
	run_split as_user srun --container="$MINE" --container-writable --container-save=out.sqsh \
		sh -c 'echo saved > /etc/marker'
	[ "$status" -eq 0 ]
	# a relative PATH counts from the step's working directory
	[ -f "$WORK/out.sqsh" ]
	[ "$(stat -c %U "$WORK/out.sqsh")" = "$SPANK_OCI_TEST_USER" ]
	[ ! -e "$WORK/out.sqsh.spank-oci-saving" ]
	run_split as_user srun --container="$WORK/out.sqsh" cat /etc/marker
	[ "$status" -eq 0 ]
	[ "$output" = saved ]
	run_split as_user srun --container=out.sqsh grep ^NAME /etc/os-release
	[ "$output" = 'NAME="spank-oci busybox"' ]
	(cd "$MINE" && find . -printf '%p %u %g %m %s %T@\n' | sort) >"$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
}

@test "--container-save from a batch script, and of a squashfs image made writable" {
	job="$(as_user sbatch --parsable --container="$MINE" --container-writable \
		--container-save="$WORK/batch.sqsh" -o "$WORK/save-%j.out" \
		--wrap 'echo from-batch > /root/note')"
	wait_job "$job"
	scontrol show job "$job" | grep -q 'ExitCode=0:0'
	run_split as_user srun --container="$WORK/batch.sqsh" --container-writable \
		--container-save="$WORK/again.sqsh" sh -c 'cat /root/note; echo more >> /root/note'
	[ "$status" -eq 0 ]
	[ "$output" = from-batch ]
	run_split as_user srun --container="$WORK/again.sqsh" cat /root/note
	[ "$output" = "$(printf 'from-batch\nmore')" ]
}

@test "--container-save with several containers in the step is refused before anything runs" {
	case "$RUNTIME" in
	*-shared)
		# one container for the step's tasks on the node: the last task to leave saves it
		run_split as_user srun -n 2 --container="$MINE" --container-writable \
			--container-save="$WORK/shared.sqsh" sh -c 'echo "$SLURM_PROCID" > /t$SLURM_PROCID'
		[ "$status" -eq 0 ]
		run_split as_user srun --container="$WORK/shared.sqsh" cat /t0 /t1
		[ "$output" = "$(printf '0\n1')" ]
		;;
	*)
		assert_refused "spank-oci: --container-save: the step's 2 tasks run a container each, which would all save to $WORK/many.sqsh: use --container-shared, or one task" \
			as_user srun -n 2 --container="$MINE" --container-save=many.sqsh touch "$WORK/ran"
		[ ! -e "$WORK/ran" ]
		[ ! -e "$WORK/many.sqsh" ]
		;;
	esac
}

@test "--container-save: a place it cannot write to fails the task with the reason" {
	assert_refused "spank-oci: --container-save=/proc/nowhere.sqsh: mksquashfs failed: *" \
		as_user srun --container="$MINE" --container-save=/proc/nowhere.sqsh true
	[ "$status" -ne 0 ]
}

@test "--container-save needs the overlay: RootOverlay=off refuses it" {
	write_config RootOverlay=off
	assert_refused "spank-oci: --container-save needs the container's root on an overlay (RootOverlay=off in $CONFIG)" \
		as_user srun --container="$MINE" --container-save=off.sqsh true
	[ ! -e "$WORK/off.sqsh" ]
}
