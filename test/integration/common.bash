# Shared helpers for the integration tests: a real Slurm (scripts/cluster), real runc or
# crun, real rootless containers, jobs run as the ordinary test user.

: "${SPANK_OCI_CLUSTER_DIR:=/tmp/spank-oci-cluster}"
: "${SPANK_OCI_TEST_USER:=ocitest}"
: "${SPANK_OCI_TEST_USER_NOSUB:=$SPANK_OCI_TEST_USER-nosub}" # no /etc/subuid range
: "${RUNTIME:=runc}"
export SLURM_CONF="$SPANK_OCI_CLUSTER_DIR/slurm/slurm.conf"
# REPO, spank_oci_config (the runtime setups in test/configs), wait_until, wait_job
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
F="$SPANK_OCI_CLUSTER_DIR/fixtures"
CONFIG="$SPANK_OCI_CLUSTER_DIR/spank-oci.conf"
WORK="$SPANK_OCI_CLUSTER_DIR/work" # the test user's working directory
TEST_UID="$(id -u "$SPANK_OCI_TEST_USER")"
# the user's own directories that slurmstepd makes (scripts/lib.sh's node_setup too): the
# default ContainerPath's (the steps' %m are in it) and the default ImageCache
SPOOL="/run/spank-oci/$TEST_UID"
CACHE="/var/cache/spank-oci/$TEST_UID"

# Runs a command as the test user, in $WORK, with the cluster's configuration, as a
# process of the test node (scripts/node-ns: what crun needs on this hybrid host).
as_user() {
	(cd "$WORK" && "$REPO/scripts/node-ns" runuser -u "$SPANK_OCI_TEST_USER" -- \
		env SLURM_CONF="$SLURM_CONF" PATH=/usr/local/bin:/usr/bin:/bin "$@")
}

# empty_dir DIR: removes what DIR holds and keeps DIR, a user's own directory (SPOOL,
# CACHE) that only slurmstepd makes: spank-oci outside Slurm could not make it again.
empty_dir() {
	find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
}

# batch_output FILE: a batch job's output without srun's own lines ("srun: Job 7 step
# creation temporarily disabled, retrying": a step started while the last one's resources
# were still being freed).
batch_output() {
	grep -v '^srun: ' "$1" || true
}

# Like bats' run, but keeps stderr apart: $output is stdout, $stderr is stderr.
run_split() {
	local errfile="$BATS_TEST_TMPDIR/stderr.$$"
	status=0
	output="$("$@" 2>"$errfile")" || status=$?
	stderr="$(cat "$errfile")"
	rm -f "$errfile"
}

# write_config [LINE...]: writes the runtime setup $RUNTIME to $CONFIG, and each LINE
# (more keys): test/configs/$RUNTIME.conf, one of runc or crun (RunTimeRun), runc-create or
# crun-create (RunTimeCreate/Start/Query, supervised by spank-oci), runc-shared or
# crun-shared (the same with SharedContainer: the step's tasks on a node join one
# container). A test that changes $CONFIG leaves it so: its file's teardown writes it anew.
write_config() {
	spank_oci_config "$RUNTIME" "$@" >"$CONFIG" || return 1
	chmod 0644 "$CONFIG"
}

# assert_refused MSG CMD...: runs CMD as run_split does ($status, $output and $stderr stay
# set for more checks) and asserts that it fails with MSG in its stderr; a * in MSG stands
# for any text, everything else is literal.
assert_refused() {
	local msg=$1 pattern='' i
	shift
	run_split "$@"
	for ((i = 0; i < ${#msg}; i++)); do
		if [ "${msg:i:1}" = '*' ]; then
			pattern+='*'
		else
			pattern+="\\${msg:i:1}"
		fi
	done
	if [ "$status" -eq 0 ]; then
		printf 'assert_refused: exit status 0, expected a failure: %s\nstderr: %s\n' \
			"$*" "$stderr" >&2
		return 1
	fi
	if [[ "$stderr" != *$pattern* ]]; then
		printf 'assert_refused: stderr lacks "%s" (exit status %s): %s\nstderr: %s\n' \
			"$msg" "$status" "$*" "$stderr" >&2
		return 1
	fi
}

# start_and_wait [-n N] [-t SECONDS] FILE CMD...: starts CMD in the background, its stdout
# and stderr to FILE, and waits (SECONDS, default 10, at most) until N lines of FILE
# (default 1) say "started": CMD prints that when it runs. On a timeout it shows FILE and
# fails. The test's `wait` waits for CMD.
start_and_wait() {
	local n=1 t=10 file
	if [ "$1" = -n ]; then
		n=$2
		shift 2
	fi
	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	file=$1
	shift
	: >"$file"
	"$@" >"$file" 2>&1 &
	wait_until -t "$t" '[ "$(grep -c started "$file")" -ge "$n" ]' && return 0
	echo "start_and_wait: not $n times \"started\" in $file after $t s:" >&2
	cat "$file" >&2
	return 1
}

# A bundle whose config.json asks for a tmpfs (a type the site allows by default) with an
# option tmpfs does not know: the runtime fails to create the container. Prints its path.
make_bad_mount_bundle() {
	local b="$F/scratch/badmount"
	mkdir -p "$b"
	ln -sfn "$F/rootfs-only" "$b/rootfs"
	python3 - "$F/bundle/config.json" "$b/config.json" <<-'PY'
		import json, sys
		c = json.load(open(sys.argv[1]))
		c["mounts"] = [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
		               "options": ["nosuchoption=1"]}]
		json.dump(c, open(sys.argv[2], "w"))
	PY
	chmod -R a+rX "$F/scratch"
	echo "$b"
}

# Nothing of the test user's containers may remain: no process, no runtime state, no
# generated files. Waits a little for a cancelled step's cleanup to finish.
assert_no_leftovers() {
	local i procs
	for i in $(seq 1 100); do
		procs="$(user_processes | grep -v -e ' srun' -e ' salloc' -e ' sbatch' || true)"
		if [ -z "$procs" ] && [ -z "$(ls -A "$SPOOL" 2>/dev/null)" ]; then
			break
		fi
		sleep 0.1
	done
	if [ -n "$procs" ]; then
		echo "processes left: $procs" >&2
		return 1
	fi
	if [ -n "$(ls -A "$SPOOL" 2>/dev/null)" ]; then
		echo "generated files left:" >&2
		find "$SPOOL" >&2
		return 1
	fi
	# runtime state: whatever --root a runtime used lived under $SPOOL, which is gone.
	# The bundles themselves must be as they were (no mount points left in them).
	if ! diff <(fixture_listing) "$SPANK_OCI_CLUSTER_DIR/fixtures.list" >&2; then
		echo "the fixtures were modified (above)" >&2
		return 1
	fi
}

# The test user's live processes (zombies left to init are already dead).
user_processes() {
	ps -u "$SPANK_OCI_TEST_USER" -o pid=,stat=,args= | awk '$2 !~ /^Z/'
}

fixture_listing() {
	(cd "$F" && find . -path ./scratch -prune -o -print | sort)
}

# The node must still be usable after a test: idle (or in use), never drained or down.
# "completing" is the moment after a job ends: wait (bounded) for it to pass.
assert_node_idle() {
	local state
	for _ in $(seq 1 150); do
		state="$(sinfo -h -o %T)"
		case "$state" in
		idle | mixed | allocated) return 0 ;;
		*drain* | *down* | *fail*) break ;;
		esac
		sleep 0.1
	done
	echo "node state: $state" >&2
	return 1
}
