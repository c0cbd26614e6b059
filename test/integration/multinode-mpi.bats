#!/usr/bin/env bats
# MPI across nodes: the Open MPI program of a real Debian image (scripts/make-mpi-image:
# test/mpi/mpi_check.c, a ring, an allreduce, a shared-memory window between the ranks of
# a node and a ping-pong) launched by srun --mpi=pmix on a cluster of 3 nodes, talking to
# Slurm's PMIx server on each (`make test` runs it on 3 nodes, `make test-mpi` it alone;
# the cluster's mpi.conf has PMIxCollFence=ring: README, "MPI"). The runtime passes give
# runc and crun, one container per task (runc, crun) and one per node (runc-create, which
# has RunTimeCreate, and the shared passes: shared mode is the default of --mpi steps).

load common
load nodes

setup_file() {
	write_config
	require_nodes 3
	# built once and cached (2 or 3 minutes the first time)
	MPI_IMAGE="$("$REPO/scripts/make-mpi-image" 2>"$BATS_FILE_TMPDIR/make-mpi-image.err" |
		tail -n 1)"
	[ -d "$MPI_IMAGE/layout" ] || {
		cat "$BATS_FILE_TMPDIR/make-mpi-image.err" >&2
		return 1
	}
	export MPI_IMAGE
}

teardown() {
	write_config
	# a test that failed midway leaves no step running into the next
	scancel -u "$SPANK_OCI_TEST_USER" 2>/dev/null || true
}

# Whether this pass's runtime setup has RunTimeCreate (then --mpi steps are shared).
site_can_share() {
	grep -q '^RunTimeCreate=' "$CONFIG"
}

# The checksum mpi_check prints for N ranks: the ring's N(N-1)/2 and the allreduce's
# sum of (rank+1)^2 (test/mpi/mpi_check.c).
checksum() {
	local n=$1
	echo "checksum=$((n * (n - 1) / 2 + n * (n + 1) * (2 * n + 1) / 6))"
}

# assert_ranks N PER_NODE: $output has N distinct rank lines of size N whose shared-memory
# checks passed, PER_NODE of them on each node of the cluster, and rank 0's checksum for N;
# and Open MPI did not fall back from its shared-memory transport.
assert_ranks() {
	local n=$1 per_node=$2 hosts
	[ "$(grep -c "^rank=[0-9]* size=$n .*shm=ok" <<<"$output")" -eq "$n" ] || {
		printf 'expected %s rank lines:\n%s\nstderr:\n%s\n' "$n" "$output" "$stderr" >&2
		return 1
	}
	[ "$(grep -o '^rank=[0-9]*' <<<"$output" | sort -u | wc -l)" -eq "$n" ]
	hosts="$(grep -o ' host=[^ ]*' <<<"$output" | sort | uniq -c | awk '{ print $1, $2 }')"
	[ "$hosts" = "$(cluster_nodes | sed "s/^/$per_node host=/")" ] || {
		printf 'ranks per host:\n%s\n' "$hosts" >&2
		return 1
	}
	grep -qx "$(checksum "$n")" <<<"$output"
	[[ "$stderr" != *"CMA is not available"* ]]
}

# mpi_run IMAGE [SRUN OPTION...]: mpi_check on 3 nodes, 4 ranks each, in IMAGE.
mpi_run() {
	local image=$1
	shift
	run_split as_user srun -N 3 --ntasks-per-node=4 --mpi=pmix "$@" --container="$image" \
		/usr/local/bin/mpi_check
	[ "$status" -eq 0 ] || {
		printf 'exit status %s\nstdout:\n%s\nstderr:\n%s\n' "$status" "$output" "$stderr" >&2
		return 1
	}
}

@test "mpi: srun -N 3 -n 12 --mpi=pmix runs the image's MPI program on 3 nodes (OCI layout)" {
	mpi_run "$MPI_IMAGE/layout:mpi"
	assert_ranks 12 4
	assert_nodes_idle
}

@test "mpi: srun -N 3 --container=IMAGE hostname prints each node's own name" {
	run_split as_user srun -N 3 -l --container="$MPI_IMAGE/image.sqsh" hostname
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f2 <<<"$output" | sort)" = "$(cluster_nodes)" ]
}

@test "mpi: srun -N 3 -n 12 --mpi=pmix from the squashfs image" {
	mpi_run "$MPI_IMAGE/image.sqsh"
	assert_ranks 12 4
	assert_nodes_idle
}

@test "mpi: sbatch -N 3 --container=IMAGE runs a script whose two srun --mpi=pmix steps inherit it" {
	local job out
	# srun in the container: the image has Slurm's client; the site binds what it reads
	write_config "ContainerMounts=$SPANK_OCI_CLUSTER_DIR:$SPANK_OCI_CLUSTER_DIR:ro,/run/munge:/run/munge,$REPO/build:$REPO/build:ro,/etc/passwd:/etc/passwd:ro,/etc/group:/etc/group:ro"
	cat >"$WORK/mpi-batch.sh" <<-'EOF'
		#!/bin/sh
		grep -q '^PRETTY_NAME="Debian GNU/Linux 12' /etc/os-release && echo batch-in-image
		srun --mpi=pmix /usr/local/bin/mpi_check
		srun --mpi=pmix /usr/local/bin/mpi_check
	EOF
	job="$(as_user sbatch --parsable -N 3 --ntasks-per-node=4 --container="$MPI_IMAGE/layout:mpi" \
		-o "$WORK/mpi-batch-%j.out" "$WORK/mpi-batch.sh")"
	wait_job "$job" 120
	out="$(batch_output "$WORK/mpi-batch-$job.out")"
	echo "$out" >&2
	[ "$(head -n 1 <<<"$out")" = batch-in-image ]
	# two steps of 12 ranks on the 3 nodes, each with its checksum
	[ "$(grep -c '^checksum=716$' <<<"$out")" -eq 2 ]
	[ "$(grep -c '^rank=[0-9]* size=12 .*shm=ok' <<<"$out")" -eq 24 ]
	[ "$(grep -o ' host=[^ ]*' <<<"$out" | sort -u | wc -l)" -eq 3 ]
	assert_nodes_idle
}

@test "mpi: the other mode than this pass's default (per task where shared, and back)" {
	site_can_share || skip "this runtime setup has no RunTimeCreate: one container per task only"
	mpi_run "$MPI_IMAGE/layout:mpi" --no-container-shared
	assert_ranks 12 4
	RUNTIME=${RUNTIME%%-*}-create write_config SharedContainer=false
	mpi_run "$MPI_IMAGE/image.sqsh" --container-shared
	assert_ranks 12 4
}

@test "mpi: an --mpi step's tasks on a node share one container where the site can, else one each" {
	local per_node
	# shellcheck disable=SC2016 # expanded in the container
	run_split as_user srun -N 3 --ntasks-per-node=2 --mpi=pmix --container="$MPI_IMAGE/layout:mpi" \
		sh -c 'echo "$(hostname) $(readlink /proc/self/ns/user)"'
	[ "$status" -eq 0 ]
	# user namespaces per node: one (shared mode, CMA works) or one per task
	per_node="$(sort -u <<<"$output" | cut -d' ' -f1 | uniq -c | awk '{ print $1 }' | sort -u)"
	if site_can_share; then
		[ "$per_node" = 1 ]
	else
		[ "$per_node" = 2 ]
	fi
	# without --mpi, the site's default: one container per task (these setups' default)
	grep -q '^SharedContainer=true' "$CONFIG" && return 0
	run_split as_user srun -N 3 --ntasks-per-node=2 --container="$MPI_IMAGE/layout:mpi" \
		sh -c 'echo "$(hostname) $(readlink /proc/self/ns/user)"'
	[ "$status" -eq 0 ]
	[ "$(sort -u <<<"$output" | cut -d' ' -f1 | uniq -c | awk '{ print $1 }' | sort -u)" = 2 ]
}

@test "mpi: --mpi=pmi2, and --mpi=pmix as uid 0 inside, are refused with the reason" {
	assert_refused "spank-oci: --mpi=pmi2 is not offered in containers: PMI-2 gives each task a socket by descriptor number (PMI_FD), and no descriptor but stdio reaches a container; use --mpi=pmix" \
		as_user srun -N 3 --mpi=pmi2 --container="$MPI_IMAGE/layout:mpi" /usr/local/bin/mpi_check
	[[ "$output" != *rank=* ]]
	assert_refused "spank-oci: --mpi=pmix: Slurm's PMIx server accepts only clients that run as you, and this container would run as uid 0" \
		as_user srun -N 3 --mpi=pmix --container-remap-root --container="$MPI_IMAGE/layout:mpi" \
		/usr/local/bin/mpi_check
	[[ "$output" != *rank=* ]]
}

@test "mpi: an MPI job cancelled midway leaves nothing on any node" {
	local node job before="$BATS_TEST_TMPDIR/before"
	nodes_snapshot "$before"
	# every rank checks, says "started" and stays in MPI (mpi_check --hold)
	start_and_wait -n 12 -t 60 "$WORK/mpi-scancel" \
		as_user srun -N 3 --ntasks-per-node=4 --mpi=pmix --container="$MPI_IMAGE/image.sqsh" \
		/usr/local/bin/mpi_check --hold 300
	job="$(squeue -h -u "$SPANK_OCI_TEST_USER" -o %i)"
	[ -n "$job" ]
	for node in $(cluster_nodes); do
		[ -n "$(node_leftovers "$node" "$before-$node")" ] || {
			echo "$node: nothing of the step while it runs" >&2
			return 1
		}
	done
	scancel "$job"
	wait || true
	assert_nothing_left "$job" "$before"
}

@test "mpi: an image on a path every node sees is unpacked once per node, then reused" {
	local node log
	for node in $(cluster_nodes); do
		on_node "$node" sh -c "rm -rf /var/cache/spank-oci/$TEST_UID/*"
	done
	mpi_run "$MPI_IMAGE/layout:mpi"
	assert_ranks 12 4
	mpi_run "$MPI_IMAGE/layout:mpi"
	assert_ranks 12 4
	[[ "$stderr" != *unpacking* ]] || {
		echo "the second step unpacked again: $stderr" >&2
		return 1
	}
	# each node's own cache logs one unpack of the image, by 4 tasks in 2 steps
	for node in $(cluster_nodes); do
		log="$(on_node "$node" cat "/var/cache/spank-oci/$TEST_UID/unpack.log")"
		echo "$node: $log" >&2
		[ "$(wc -l <<<"$log")" -eq 1 ]
		grep -q " $MPI_IMAGE/layout " <<<"$log"
	done
}
