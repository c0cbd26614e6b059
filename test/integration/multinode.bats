#!/usr/bin/env bats
# Several nodes: a cluster of 3 or more started with SPANK_OCI_NODES (scripts/cluster), each
# slurmd in its own network, UTS and mount namespace (its host name, /run and spool) and
# its own cgroup. scripts/integration runs the files named multinode*.bats on such a
# cluster, after the single-node passes.

load common

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

# The cluster's node names, one a line.
cluster_nodes() {
	sinfo -h -N -o %N | sort -u
}

# on_node NAME CMD...: CMD as root in node NAME's namespaces (scripts/cluster node).
on_node() {
	SPANK_OCI_CLUSTER_DIR="$SPANK_OCI_CLUSTER_DIR" "$REPO/scripts/cluster" node "$@"
}

# node_slurmd NAME: the pid of node NAME's slurmd.
node_slurmd() {
	cat "$SPANK_OCI_CLUSTER_DIR/slurm/nodes/$1/slurmd.pid"
}

# node_cgroup NAME: the cgroup v2 directory node NAME's slurmd (and so its steps) runs in.
node_cgroup() {
	local root path
	root="$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)"
	path="$(sed -n 's/^0:://p' "/proc/$(node_slurmd "$1")/cgroup")"
	echo "$root$path"
}

# node_spool NAME: node NAME's SlurmdSpoolDir.
node_spool() {
	local dir
	dir="$(scontrol show config | awk '$1 == "SlurmdSpoolDir" { print $3 }')"
	echo "${dir//%n/$1}"
}

# spool_entries NAME: what node NAME's spool holds, but Slurm's credential state.
spool_entries() {
	find "$(node_spool "$1")" -mindepth 1 -maxdepth 1 ! -name 'cred_state*' -printf '%P\n' | sort
}

# node_mounts NAME: the mount points in node NAME's mount namespace, sorted.
node_mounts() {
	# shellcheck disable=SC2016 # awk's
	on_node "$1" awk '{ print $5 }' /proc/self/mountinfo | sort
}

# node_leftovers NAME BEFORE: what of the test user's steps is left on node NAME, one line
# each (nothing when clean): processes in its cgroup other than slurmd, cgroups below it,
# files in its $SPOOL (runtime state, generated files), entries in its spool that were not
# there before (BEFORE.spool), mount points that were not there before (BEFORE.mounts).
node_leftovers() {
	local node=$1 before=$2 cg pid
	cg="$(node_cgroup "$node")"
	while read -r pid; do
		[ "$pid" = "$(node_slurmd "$node")" ] ||
			echo "$node: process $(ps -o pid=,user=,args= -p "$pid")"
	done <"$cg/cgroup.procs"
	find "$cg" -mindepth 1 -type d -printf "$node: cgroup %p\n"
	on_node "$node" find "$SPOOL" -mindepth 1 -printf "$node: in $SPOOL: %P\n" 2>/dev/null || true
	comm -13 "$before.spool" <(spool_entries "$node") |
		sed "s|^|$node: in its spool: |"
	comm -13 "$before.mounts" <(node_mounts "$node") | sed "s|^|$node: mount |"
}

# The nodes are idle again (not completing, drained or down); waits 15 s at most.
assert_nodes_idle() {
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 15 '[ -z "$(sinfo -h -N -o "%N %T" | grep -v " idle$")" ]' && return 0
	sinfo -N >&2
	return 1
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
