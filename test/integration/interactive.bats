#!/usr/bin/env bats
# Interactive containers: srun --pty --container and salloc --container at a real
# pseudo-terminal (test/integration/pty-drive types into it as a person would), and what
# the runtime itself says: never on the user's terminal or stderr unless it failed.

load common

DRIVE="$BATS_TEST_DIRNAME/pty-drive"
NOSHELL="$F/scratch/noshell" # a root filesystem with neither bash nor sh

setup_file() {
	write_config
	rm -rf "$NOSHELL"
	mkdir -p "$NOSHELL/etc" "$NOSHELL/tmp"
	echo 'NAME="no shell"' >"$NOSHELL/etc/os-release"
	chmod -R a+rX "$F/scratch"
}

teardown() {
	write_config # after the tests that change it
	assert_no_leftovers
	assert_node_idle
}

# drive ROWS COLS CMD...: CMD as the test user at a terminal of ROWS x COLS, typed into
# from the steps on stdin (see pty-drive); $status, and $output: what the terminal showed.
drive() {
	local rows=$1 cols=$2
	shift 2
	status=0
	output="$(as_user "$DRIVE" "$rows" "$cols" -- "$@" 2>"$BATS_TEST_TMPDIR/drive.err")" ||
		status=$?
	if [ "$status" -eq 99 ]; then
		cat "$BATS_TEST_TMPDIR/drive.err" >&2
	fi
}

# The steps of a session at the busybox image's shell: a command, tty, the terminal's
# size and a resize, ^C of a sleep in the foreground (the shell stays), exit 3.
shell_session() {
	cat <<-'EOF'
		expect [$#] 
		send echo MARK-$((1+1))\n
		expect MARK-2
		send grep ^NAME= /etc/os-release\n
		expect NAME="spank-oci busybox"
		send tty\n
		expect \n/dev/pts/[0-9]+\r
		send stty size\n
		expect \n30 100\r
		resize 45 132
		send stty size\n
		expect \n45 132\r
		send sleep 100\n
		sleep 1
		send \x03
		send echo AFTER-$((2+3))\n
		expect AFTER-5
		send exit 3\n
	EOF
}

@test "srun --pty --container: a shell at the task's terminal, its size, ^C and its exit status" {
	drive 30 100 srun --pty --container="$F/bundle" sh < <(shell_session)
	[ "$status" -eq 3 ]
}

@test "srun --pty --container-remap-root: the same shell, as root in the container" {
	drive 30 100 srun --pty --container="$F/bundle" --container-remap-root sh < <(
		shell_session | sed 's/^send tty/send id -u; tty/'
	)
	[ "$status" -eq 3 ]
	[[ "$output" == *$'\n0\r'* ]]
}

@test "salloc --container: the interactive step's shell in the container, on an image without bash" {
	[ "$(getent passwd "$SPANK_OCI_TEST_USER" | cut -d: -f7)" = /bin/bash ]
	[ ! -e "$F/bundle/rootfs/bin/bash" ] && [ ! -e "$F/bundle/rootfs/usr/bin/bash" ]
	drive 30 100 env SHELL=/bin/bash salloc --container="$F/bundle" < <(
		cat <<-'EOF'
			expect [$#] 
			send grep ^NAME= /etc/os-release\n
			expect NAME="spank-oci busybox"
			send echo STEP-$SLURM_STEP_ID\n
			expect STEP-[0-9]+
			send exit 0\n
		EOF
	)
	[ "$status" -eq 0 ]
}

@test "srun --pty with the user's shell, on an image with no shell at all: one clear error" {
	drive 30 100 srun --pty --container="$NOSHELL" /bin/bash < <(
		echo 'expect spank-oci: .*neither /bin/bash \(your shell\) nor /bin/sh'
	)
	[ "$status" -ne 0 ]
	[ "$status" -ne 99 ]
}

# A template of the test's runtime without --log and --log-format (as Slurm's documented
# runc example): spank-oci adds its own for the runtimes it knows.
write_config_without_log() {
	write_config
	sed -E -i 's/ --log(=| )[^ ]+ --log-format(=| )json//' "$CONFIG"
	! grep -q -- '--log' "$CONFIG"
}

@test "a container that exits 3 under a template without --log shows no runtime warning" {
	write_config_without_log
	run_split as_user srun --container="$F/bundle" sh -c 'echo out; echo err >&2; exit 3'
	[ "$status" -eq 3 ]
	[ "$output" = out ]
	# the container's own line, and srun's report of the exit status: nothing of the runtime
	[ "$(printf '%s\n' "$stderr" | grep -v '^srun: ')" = err ]
}

@test "a runtime failure under a template without --log still shows its error line" {
	write_config_without_log
	run_split as_user srun --container="$F/bundle" /no/such/program
	[ "$status" -ne 0 ]
	printf '%s\n' "$stderr" | grep -q '^spank-oci: .*/no/such/program'
}
