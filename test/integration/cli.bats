#!/usr/bin/env bats
# The spank-oci command line: check, spec, run (outside Slurm, as an ordinary user).

load common

CLI="$REPO/build/spank-oci"

setup_file() {
	write_config
}

teardown() {
	write_config # after the tests that change it
	assert_no_leftovers
}

@test "spank-oci check accepts oci.conf.example" {
	run "$CLI" check --config "$REPO/oci.conf.example"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok (runtime runc, RunTimeRun)"* ]]
}

@test "oci.conf.example's crun and create/start settings are valid too" {
	# uncomment one alternative block at a time, comment out the default runc lines
	for block in "The same with crun" "Or create/start/query"; do
		awk -v block="$block" '
			/^# ---- / { inblock = index($0, block) > 0 }
			/^RunTime/ { print "#" $0; next }
			inblock && /^#RunTime/ { sub(/^#/, ""); print; next }
			{ print }' "$REPO/oci.conf.example" >"$BATS_TEST_TMPDIR/alt.conf"
		run "$CLI" check --config "$BATS_TEST_TMPDIR/alt.conf"
		[ "$status" -eq 0 ]
		[[ "$output" == *"ok (runtime "* ]]
		# crun 1.8.1 reads --rootless=true as --root=true
		! grep '^RunTime' "$BATS_TEST_TMPDIR/alt.conf" | grep -q -- '--rootless=true'
	done
}

@test "each runtime setup of the tests and the bench (test/configs) passes spank-oci check" {
	for f in "$REPO"/test/configs/*.conf; do
		run "$CLI" check --config "$f"
		[ "$status" -eq 0 ] || {
			echo "$f: $output" >&2
			return 1
		}
		name="$(basename "$f" .conf)"
		[[ "$output" == *"$f: ok (runtime ${name%%-*}, "* ]]
	done
}

@test "spank-oci check names file:line and the text of an unknown key" {
	printf 'RunTimeRun="runc run %%b"\n# fine\nBogusKey=1\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run "$CLI" check --config "$BATS_TEST_TMPDIR/bad.conf"
	[ "$status" -ne 0 ]
	[ "$output" = "spank-oci: $BATS_TEST_TMPDIR/bad.conf:3: unknown key 'BogusKey': 'BogusKey=1'" ]
}

@test "spank-oci check reports a runtime program that does not exist" {
	sed 's#/usr/sbin/runc#/no/such/runc#' "$REPO/oci.conf.example" >"$BATS_TEST_TMPDIR/c.conf"
	assert_refused "runtime /no/such/runc: No such file or directory" \
		"$CLI" check --config "$BATS_TEST_TMPDIR/c.conf"
}

@test "spank-oci check warns about an oci.conf next to slurm.conf" {
	mkdir -p "$BATS_TEST_TMPDIR/etc"
	touch "$BATS_TEST_TMPDIR/etc/slurm.conf" "$BATS_TEST_TMPDIR/etc/oci.conf"
	SLURM_CONF="$BATS_TEST_TMPDIR/etc/slurm.conf" run "$CLI" check --config "$REPO/oci.conf.example"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: $BATS_TEST_TMPDIR/etc/oci.conf exists"* ]]
}

@test "spank-oci spec prints the config.json a task of the user would get" {
	run_split as_user "$CLI" spec --config "$CONFIG" --bundle "$F/bundle" -- printenv A
	[ "$status" -eq 0 ]
	[ "$(jq -c .process.args <<<"$output")" = '["printenv","A"]' ]
	# the root is the task's overlay of the bundle's rootfs, in its own directory
	[[ "$(jq -r .root.path <<<"$output")" == */task.0/rootfs ]]
	[ "$(jq -r '.linux.namespaces | map(.type) | join(",")' <<<"$output")" = "user,mount" ]
	# the user's own uid inside; the runtime runs in the task's namespace, where 0 is the
	# user and (for runc, which needs uid 0 mapped) 1 the user's first subordinate id
	[ "$(jq -r .process.user.uid <<<"$output")" = "$TEST_UID" ]
	case "$RUNTIME" in
	runc*) want="[{\"containerID\":$TEST_UID,\"hostID\":0,\"size\":1},{\"containerID\":0,\"hostID\":1,\"size\":1}]" ;;
	*) want="[{\"containerID\":$TEST_UID,\"hostID\":0,\"size\":1}]" ;;
	esac
	[ "$(jq -c .linux.uidMappings <<<"$output")" = "$want" ]
	[ "$(jq -r '.linux.cgroupsPath // "none"' <<<"$output")" = "none" ]
}

@test "spank-oci run prints the container's os-release and passes exit status 7 through" {
	run_split as_user "$CLI" run --config "$CONFIG" --bundle "$F/bundle" -- \
		sh -c 'cat /etc/os-release; exit 7'
	[ "$status" -eq 7 ]
	[[ "$output" == *'NAME="spank-oci busybox"'* ]]
}

@test "spank-oci run uses ids no Slurm job has: job 0, its own pid as the step" {
	# job <pid> step 0 was a real job's: a run could remove that task's files
	RUNTIME=${RUNTIME%%-*} write_config DisableCleanup=true "ContainerPath=$WORK/cli-spool/%j.%s"
	run_split as_user "$CLI" run --config "$CONFIG" --bundle "$F/bundle" -- true
	[ "$status" -eq 0 ]
	run ls "$WORK/cli-spool"
	rm -rf "$WORK/cli-spool"
	[[ "$output" =~ ^0\.[0-9]+$ ]]
	[ "$output" != "0.0" ]
}

@test "spank-oci run: no fd of the caller's reaches the container (shared mode too)" {
	# fd 7 is the host's /: in the container it would lead out of its mount namespace
	for shared in false true; do
		RUNTIME=${RUNTIME%%-*}-create write_config "SharedContainer=$shared"
		run_split as_user bash -c 'exec 7</; exec "$0" run --config "$1" --bundle "$2" -- ls /proc/self/fd' \
			"$CLI" "$CONFIG" "$F/bundle"
		[ "$status" -eq 0 ]
		[[ " $(echo $output) " != *" 7 "* ]] || {
			echo "shared=$shared: fd 7 in the container: $output" >&2
			return 1
		}
	done
}

@test "spank-oci run refuses to run a container as root" {
	assert_refused "refusing to run a container as root" \
		"$CLI" run --config "$CONFIG" --bundle "$F/bundle" -- true
}

@test "spank-oci run: a missing bundle is one clear line and a non-zero exit" {
	run_split as_user "$CLI" run --config "$CONFIG" --bundle /nonexistent -- true
	[ "$status" -ne 0 ]
	[ "$stderr" = "spank-oci: bundle /nonexistent: No such file or directory" ]
}

@test "spank-oci run: an argument that is not UTF-8 is refused, such a variable left out" {
	run_split as_user "$CLI" run --config "$CONFIG" --bundle "$F/bundle" -- echo $'caf\xe9'
	[ "$status" -ne 0 ]
	[[ "$stderr" == *'argument 2 of the task is not valid UTF-8: caf\xe9'* ]]
	[ -z "$output" ]
	run_split as_user env $'BAD=caf\xe9' GOOD=1 "$CLI" run --config "$CONFIG" \
		--bundle "$F/bundle" -- sh -c 'echo "GOOD=$GOOD BAD=${BAD-unset}"'
	[ "$status" -eq 0 ]
	[ "$output" = "GOOD=1 BAD=unset" ]
	[ "$(grep -c 'environment variable BAD is not valid UTF-8' <<<"$stderr")" -eq 1 ]
}

@test "spank-oci --help and each command's --help" {
	for cmd in "" check spec run; do
		run "$CLI" $cmd --help
		[ "$status" -eq 0 ]
		[[ "$output" == usage:* ]]
	done
}
