#!/usr/bin/env bats
# Several nodes: a cluster of 3 or more started with SPANK_OCI_NODES (scripts/cluster), each
# slurmd in its own network, UTS and mount namespace (its host name, /run and spool) and
# its own cgroup. scripts/integration runs the files named multinode*.bats on such a
# cluster, after the single-node passes.

load common
load nodes

setup_file() {
	write_config
	local n
	n="$(sinfo -h -N -o %N | sort -u | wc -l)"
	[ "$n" -ge 3 ] ||
		skip "needs a cluster of 3 nodes or more (SPANK_OCI_NODES=3 scripts/cluster start); this one has $n"
}

teardown() {
	write_config
	# a test that failed midway leaves no step running into the next
	scancel -u "$SPANK_OCI_TEST_USER" 2>/dev/null || true
}

@test "multinode: srun -N 3 hostname in the container prints each node's own name, as without one" {
	local nodes bare container
	nodes="$(cluster_nodes)"
	run_split as_user srun -N 3 -l hostname
	[ "$status" -eq 0 ] || {
		echo "$stderr" >&2
		return 1
	}
	bare="$(sort <<<"$output")"
	run_split as_user srun -N 3 -l --container="$F/bundle" hostname
	[ "$status" -eq 0 ] || {
		echo "$stderr" >&2
		return 1
	}
	container="$(sort <<<"$output")"
	echo "bare:"$'\n'"$bare"$'\n'"container:"$'\n'"$container"$'\n'"nodes:"$'\n'"$nodes" >&2
	# three tasks, on three distinct nodes of the cluster (not the host's name)
	[ "$(wc -l <<<"$container")" -eq 3 ]
	[ "$(cut -d' ' -f2 <<<"$container" | sort -u | wc -l)" -eq 3 ]
	[ -z "$(cut -d' ' -f2 <<<"$container" | grep -vxF -f <(echo "$nodes"))" ]
	# each task's container has its node's name: the same task on the same node as without
	[ "$container" = "$bare" ]
	assert_no_leftovers
	assert_nodes_idle
}

@test "multinode: scancel of srun -N 3 -n 6 in containers leaves nothing on any node" {
	local node job before="$BATS_TEST_TMPDIR/before" left
	for node in $(cluster_nodes); do
		spool_entries "$node" >"$before-$node.spool"
		node_mounts "$node" >"$before-$node.mounts"
	done
	start_and_wait -n 6 "$WORK/mn-scancel" \
		as_user srun -N 3 -n 6 --container="$F/bundle" sh -c 'echo started; exec sleep 300'
	job="$(squeue -h -u "$SPANK_OCI_TEST_USER" -o %i)"
	[ -n "$job" ]
	# every node runs containers of the step; their state is in the node's own /run
	for node in $(cluster_nodes); do
		[ -n "$(on_node "$node" ls -A "$SPOOL")" ] || {
			echo "$node: nothing in its $SPOOL while the step runs" >&2
			return 1
		}
		[ -n "$(node_leftovers "$node" "$before-$node")" ]
	done
	[ -z "$(ls -A "$SPOOL")" ] || {
		echo "the host's $SPOOL holds the nodes' state:" >&2
		ls -la "$SPOOL" >&2
		return 1
	}
	scancel "$job"
	wait || true
	grep -q -e CANCELLED -e 'Job step aborted' "$WORK/mn-scancel" || {
		cat "$WORK/mn-scancel" >&2
		return 1
	}
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 15 '[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]' || true
	for node in $(cluster_nodes); do
		# shellcheck disable=SC2016 # expanded by wait_until
		wait_until -t 15 '[ -z "$(node_leftovers "$node" "$before-$node")" ]' || true
		left="$(node_leftovers "$node" "$before-$node")"
		[ -z "$left" ] || {
			echo "left on $node after scancel:"$'\n'"$left" >&2
			return 1
		}
	done
	# no cgroup of the job or of its containers anywhere (named job_J..., or U.J.S.T)
	left="$(find /sys/fs/cgroup -mindepth 1 -type d \( -name "job_$job" -o -name "*.$job.*" \) 2>/dev/null)"
	[ -z "$left" ] || {
		echo "cgroups left: $left" >&2
		return 1
	}
	assert_no_leftovers
	assert_nodes_idle
}
