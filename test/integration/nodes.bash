# What the multinode*.bats files share: the cluster's nodes, and what of a step is left on
# each (its processes, cgroups, spool state and mounts).

# require_nodes N: skips the file's tests on a cluster of fewer than N nodes.
require_nodes() {
	local n
	n="$(sinfo -h -N -o %N | sort -u | wc -l)"
	[ "$n" -ge "$1" ] ||
		skip "needs a cluster of $1 nodes or more (SPANK_OCI_NODES=$1 scripts/cluster start); this one has $n"
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

# nodes_snapshot BEFORE: what each node's spool and mounts hold now (BEFORE-NODE.spool,
# BEFORE-NODE.mounts), for node_leftovers.
nodes_snapshot() {
	local node
	for node in $(cluster_nodes); do
		spool_entries "$node" >"$1-$node.spool"
		node_mounts "$node" >"$1-$node.mounts"
	done
}

# assert_nothing_left JOB BEFORE: once JOB has left the queue, nothing of it is left on any
# node (node_leftovers against nodes_snapshot BEFORE; waits 15 s at most for each), no
# cgroup of the job or its containers anywhere, and the nodes are idle again.
assert_nothing_left() {
	local job=$1 before=$2 node left
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t 15 '[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]' || true
	for node in $(cluster_nodes); do
		# shellcheck disable=SC2016 # expanded by wait_until
		wait_until -t 15 '[ -z "$(node_leftovers "$node" "$before-$node")" ]' || true
		left="$(node_leftovers "$node" "$before-$node")"
		[ -z "$left" ] || {
			echo "left on $node after the job:"$'\n'"$left" >&2
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
