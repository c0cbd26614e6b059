#!/usr/bin/env bats
# Several nodes: a cluster of 3 or more started with SPANK_OCI_NODES (scripts/cluster), each
# slurmd in its own network, UTS and mount namespace (its host name, /run and spool) and
# its own cgroup. scripts/integration runs the files named multinode*.bats on such a
# cluster, after the single-node passes.

load common
load nodes

setup_file() {
	write_config
	require_nodes 3
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
	local node job before="$BATS_TEST_TMPDIR/before"
	nodes_snapshot "$before"
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
	assert_nothing_left "$job" "$before"
}
