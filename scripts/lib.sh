# shellcheck shell=bash
# What scripts/integration, scripts/demo and scripts/bench share: the throwaway cluster's
# environment, the root setup of the node before it starts, the runtime setups
# (test/configs) and waiting for a job. test/integration/common.bash uses it too.
# Sourced; it only defines REPO and functions.

# This source tree (the plugin and the command are loaded from its build/).
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# cluster_env DIR USER: the environment of scripts/cluster for a cluster in DIR whose jobs
# USER runs, unless SPANK_OCI_CLUSTER_DIR or SPANK_OCI_TEST_USER say otherwise; D is the
# cluster's directory, and plugstack.conf loads build/spank_oci.so with D/spank-oci.conf.
cluster_env() {
	export SPANK_OCI_CLUSTER_DIR=${SPANK_OCI_CLUSTER_DIR:-$1}
	export SPANK_OCI_TEST_USER=${SPANK_OCI_TEST_USER:-$2}
	export SPANK_OCI_TEST_USER_NOSUB=${SPANK_OCI_TEST_USER_NOSUB:-$SPANK_OCI_TEST_USER-nosub}
	export SLURM_CONF=$SPANK_OCI_CLUSTER_DIR/slurm/slurm.conf
	export SPANK_OCI_PLUGSTACK_LINE="required $REPO/build/spank_oci.so config=$SPANK_OCI_CLUSTER_DIR/spank-oci.conf"
	# shellcheck disable=SC2034 # the scripts' name for it
	D=$SPANK_OCI_CLUSTER_DIR
}

# node_setup: as root, before the cluster starts: the cluster's directory; the test user
# (scripts/cluster start adds the subordinate ids and the user without them); this tree
# reachable by that user, who loads build/spank_oci.so and runs build/spank-oci from it;
# the fixtures (scripts/make-fixtures, which says so on stdout); an empty working
# directory D/work for the user; the user's own directories that slurmstepd makes at a
# container step's start (/run/spank-oci/<uid>, /var/cache/spank-oci/<uid>), made empty
# as it makes them (spank-oci outside Slurm, as the tests run it first, needs them): none
# of the user's per-step files or images left from before.
node_setup() {
	local dir=$REPO
	mkdir -p "$SPANK_OCI_CLUSTER_DIR"
	chmod 0755 "$SPANK_OCI_CLUSTER_DIR"
	id "$SPANK_OCI_TEST_USER" >/dev/null 2>&1 ||
		useradd -m -s /bin/bash "$SPANK_OCI_TEST_USER"
	while [ "$dir" != / ]; do
		chmod o+x "$dir"
		dir=$(dirname "$dir")
	done
	chmod -R o+rX "$REPO/build"
	"$REPO/scripts/make-fixtures" "$SPANK_OCI_CLUSTER_DIR/fixtures"
	local uid parent
	uid=$(id -u "$SPANK_OCI_TEST_USER")
	rm -rf "$SPANK_OCI_CLUSTER_DIR/work" "/dev/shm/spank-oci-$uid" "/tmp/spank-oci-images-$uid"
	install -d -o "$SPANK_OCI_TEST_USER" -m 0755 "$SPANK_OCI_CLUSTER_DIR/work"
	for parent in /run/spank-oci /var/cache/spank-oci; do
		install -d -o root -g root -m 0755 "$parent"
		rm -rf "${parent:?}/$uid"
		install -d -o "$SPANK_OCI_TEST_USER" -g "$(id -g "$SPANK_OCI_TEST_USER")" -m 0700 \
			"$parent/$uid"
	done
}

# fuse_for_users: squashfs images (squashfuse) and RootOverlay=fuse roots (fuse-overlayfs)
# are mounted by the job's user: /dev/fuse as Debian's udev rules make it, 0666 (this
# machine has it 0600).
fuse_for_users() {
	[ ! -c /dev/fuse ] || chmod 0666 /dev/fuse
}

# cluster_start_until_exit: scripts/cluster start, and scripts/cluster stop when the
# calling script exits (an EXIT trap).
cluster_start_until_exit() {
	trap '"$REPO/scripts/cluster" stop >/dev/null 2>&1 || true' EXIT
	"$REPO/scripts/cluster" start
}

# spank_oci_config NAME [LINE...]: prints the runtime setup test/configs/NAME.conf (runc,
# crun, runc-create, crun-create, runc-shared, crun-shared), then each LINE (more keys).
spank_oci_config() {
	local f=$REPO/test/configs/$1.conf
	if [ ! -f "$f" ]; then
		echo "unknown runtime setup '$1': no $f" >&2
		return 1
	fi
	shift
	cat "$f" || return 1
	[ $# -eq 0 ] || printf '%s\n' "$@"
}

# wait_until [-t SECONDS] CONDITION: evaluates CONDITION (shell code, in the caller's
# variables) every 0.1 s until it is true; fails, saying nothing, after SECONDS (10).
wait_until() {
	local _wait_tries=100 _wait_i
	if [ "$1" = -t ]; then
		_wait_tries=$(($2 * 10))
		shift 2
	fi
	for ((_wait_i = 0; _wait_i < _wait_tries; _wait_i++)); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

# wait_job JOB [SECONDS]: waits (SECONDS, default 30, at most) until JOB has left the queue.
wait_job() {
	local job=$1 seconds=${2:-30}
	# shellcheck disable=SC2016 # expanded by wait_until
	wait_until -t "$seconds" '[ -z "$(squeue -h -j "$job" 2>/dev/null)" ]' && return 0
	echo "job $job still queued" >&2
	return 1
}
