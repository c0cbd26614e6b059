#!/usr/bin/env bats
# Shared mode (--container-shared, SharedContainer): one container per step and node,
# created by the first task, joined by every task of the step there, deleted by the last.

load common

RT=${RUNTIME%%-*} # runc or crun: this pass's runtime

setup() {
	# shared mode needs the create/start setup
	RUNTIME=$RT-create write_config
}

teardown() {
	write_config # after the tests that change it
	assert_no_leftovers
}

@test "shared: the step's tasks on a node join one container, each its own stdio, env and status" {
	# the tasks stay alive together: a namespace's inode number is reused once it is gone
	run_split as_user srun -n 4 --container-shared --container="$F/bundle" sh -c \
		'readlink /proc/self/ns/mnt; echo "rank $SLURM_PROCID" >&2; grep ^ID= /etc/os-release; sleep 2'
	[ "$status" -eq 0 ]
	[ "$(grep -c '^ID=spank-oci-busybox$' <<<"$output")" -eq 4 ]
	[ "$(grep '^mnt:' <<<"$output" | sort -u | wc -l)" -eq 1 ]
	[ "$(grep -c '^rank [0-3]$' <<<"$stderr")" -eq 4 ]
	# the node's own mount namespace is not the container's
	[ "$(grep '^mnt:' <<<"$output" | sort -u)" != "$(readlink /proc/self/ns/mnt)" ]
	# without it, one container per task
	run_split as_user srun -n 4 --no-container-shared --container="$F/bundle" sh -c \
		'readlink /proc/self/ns/mnt; sleep 2'
	[ "$status" -eq 0 ]
	[ "$(sort -u <<<"$output" | wc -l)" -eq 4 ]
}

@test "shared: exit statuses and signals are each task's own, exactly" {
	run_split as_user srun -n 2 --container-shared --container="$F/bundle" sh -c 'exit $((SLURM_PROCID + 3))'
	[ "$status" -eq 4 ]
	[[ "$stderr" == *"task 0: Exited with exit code 3"* ]]
	[[ "$stderr" == *"task 1: Exited with exit code 4"* ]]
	# a command that itself exits with 137 is not reported as killed (no runtime in between)
	run_split as_user srun --container-shared --container="$F/bundle" sh -c 'exit 137'
	[ "$status" -eq 137 ]
	[[ "$stderr" != *Killed* ]]
	assert_refused "Killed" as_user srun --container-shared --container="$F/bundle" sh -c 'kill -9 $$'
}

# A bundle whose config.json sets capabilities (all five sets) and a seccomp profile that
# refuses mkdir with EPERM; its root is read-only (EROFS, were mkdir let through).
make_confined_bundle() {
	local b="$F/scratch/confined"
	mkdir -p "$b"
	ln -sfn "$F/rootfs-only" "$b/rootfs"
	python3 - "$F/bundle/config.json" "$b/config.json" <<-'PY'
		import json, sys
		c = json.load(open(sys.argv[1]))
		c["root"]["readonly"] = True
		c["process"]["capabilities"] = {
		    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
		    "permitted": ["CAP_CHOWN", "CAP_KILL"],
		    "effective": ["CAP_KILL"],
		    "inheritable": ["CAP_KILL"],
		    "ambient": ["CAP_KILL"],
		}
		c.setdefault("linux", {})["seccomp"] = {
		    "defaultAction": "SCMP_ACT_ALLOW",
		    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
		}
		json.dump(c, open(sys.argv[2], "w"))
	PY
	chmod -R a+rX "$F/scratch"
	echo "$b"
}

@test "shared: a joined task is confined as the container's own process: seccomp, capabilities, no_new_privs" {
	local b probe alone
	b=$(make_confined_bundle)
	probe='grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status; mkdir /probe'
	# the runtime's own container process (one container per task)
	run_split as_user srun --no-container-shared --container="$b" sh -c "$probe"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"can't create directory '/probe': Operation not permitted"* ]]
	alone=$output
	# (after its exec, a user other than root keeps as permitted set the ambient one)
	[ "$alone" = $'CapInh:\t0000000000000020\nCapPrm:\t0000000000000020\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000421\nCapAmb:\t0000000000000020\nNoNewPrivs:\t1\nSeccomp:\t2' ]
	# every task that joins the step's container: the same, mkdir refused by the profile
	run_split as_user srun -l -n 2 --container-shared --container="$b" sh -c "$probe"
	[ "$status" -ne 0 ]
	[ "$(grep -c "can't create directory '/probe': Operation not permitted" <<<"$stderr")" -eq 2 ]
	[ "$(sed -n 's/^ *0: //p' <<<"$output")" = "$alone" ]
	[ "$(sed -n 's/^ *1: //p' <<<"$output")" = "$alone" ]
}

@test "shared: SPANK_OCI_CONTAINER_SHARED=1 and SharedContainer=true select it too" {
	run_split as_user env SPANK_OCI_CONTAINER_SHARED=1 srun -n 2 --container="$F/bundle" readlink /proc/self/ns/mnt
	[ "$status" -eq 0 ]
	[ "$(sort -u <<<"$output" | wc -l)" -eq 1 ]
	RUNTIME=$RT-create write_config SharedContainer=true
	run_split as_user srun -n 2 --container="$F/bundle" readlink /proc/self/ns/mnt
	[ "$status" -eq 0 ]
	[ "$(sort -u <<<"$output" | wc -l)" -eq 1 ]
}

@test "shared: a cancelled shared step leaves no container, state or file" {
	start_and_wait -n 3 "$WORK/shared-run" \
		as_user srun -n 3 --container-shared --container="$F/bundle" sh -c 'echo started; sleep 300'
	[ "$(grep -c started "$WORK/shared-run")" -eq 3 ]
	scancel -u "$SPANK_OCI_TEST_USER"
	wait || true
	assert_no_leftovers
	for root in "$SPOOL"/*/"$RT"; do
		[ ! -d "$root" ] || [ -z "$(runuser -u "$SPANK_OCI_TEST_USER" -- "$RT" --root="$root" list -q)" ]
	done
}

@test "shared: with a RunTimeRun setup the option is refused, and nothing runs" {
	RUNTIME=$RT write_config
	assert_refused "spank-oci: --container-shared: the site's runtime setup has no RunTimeCreate" \
		as_user srun --container-shared --container="$F/bundle" touch "$WORK/marker"
	[ ! -e "$WORK/marker" ]
}

@test "shared: a RunTimeKill with the default SIGTERM (Slurm's documented lines) leaves no holder" {
	# the holder ignores SIGTERM by design; crun's delete --force does not kill it either
	{
		spank_oci_config "$RT-create" SharedContainer=true | grep -v '^RunTimeKill='
		echo "RunTimeKill=\"$(command -v "$RT") --root=%m/$RT kill --all %u.%j.%s.%t\""
	} >"$CONFIG"
	"$REPO/build/spank-oci" check --config "$CONFIG" >/dev/null
	run_split as_user srun -n 2 --container="$F/bundle" true
	[ "$status" -eq 0 ]
	# assert_no_leftovers (teardown) fails on a live holder; say which it is here
	wait_until -t 5 '[ -z "$(user_processes | grep -v -e " srun" -e " salloc" -e " sbatch")" ]' || {
		user_processes >&2
		return 1
	}
}
