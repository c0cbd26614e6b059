#!/usr/bin/env python3
"""Writes the seed corpora of test/fuzz/corpus/ (run from the repository root).

The configuration seeds are the real ones (oci.conf.example, test/configs/*.conf) plus a few
broken variants; the other seeds come from the unit tests' inputs. Layers are tar files made
with Python's tarfile (ustar, GNU and pax headers, gzip), plus one zstd layer if zstd is
installed. Deterministic: running it again gives the same files.
"""
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile

C = "test/fuzz/corpus"


def put(target, name, data):
    os.makedirs(f"{C}/{target}", exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"{C}/{target}/{name}", "wb") as f:
        f.write(data)


# ---- conf ------------------------------------------------------------------------------------
KILL_DELETE = (
    'RunTimeKill="/usr/sbin/runc --root %m/runc kill %u.%j.%s.%t KILL"\n'
    'RunTimeDelete="/usr/sbin/runc --root %m/runc delete --force %u.%j.%s.%t"\n'
)
RUNTIME = 'RunTimeRun="/usr/sbin/runc --root %m/runc run --bundle %b %u.%j.%s.%t"\n' + KILL_DELETE
os.makedirs(f"{C}/conf", exist_ok=True)
shutil.copy("oci.conf.example", f"{C}/conf/oci.conf.example")
for f in sorted(os.listdir("test/configs")):
    shutil.copy(f"test/configs/{f}", f"{C}/conf/{f}")
conf_extra = {
    "keys": 'ContainerPath=/tmp/x-%U/%j.%s\nCreateEnvFile=newline\nDebugFlags=a,b\n'
    'DisableCleanup=true\nDisableHooks=prestart,poststop\nEnvExclude="^(SLURM|X)_.*"\n'
    'RunTimeEnvExclude=^HOME=\nIgnoreFileConfigJson=false\nMountSpoolDir=/var/run/slurm\n'
    'SrunPath=/usr/bin/srun\nSrunArgs="--overlap --mpi=none"\nStdIODebug=debug2\n'
    'SyslogDebug=quiet\nFileDebug=verbose\nRemapRoot=auto\nCgroupPerContainer=true\n'
    'SharedContainer=false\nImageCache=/tmp/img-%U\nImageCacheSize=10G\n'
    'ContainerMounts=/scratch:/scratch,/etc/hosts:/etc/hosts:ro\nMountHome=true\n'
    'AllowedMountPrefixes=/scratch,/data\nDeniedMountPrefixes=/etc,/root\n'
    'AllowRemapRoot=false\nWritable=true\n',
    "create": 'RunTimeCreate="crun create --bundle %b %u.%j.%s.%t"\n'
    'RunTimeStart="crun start %u.%j.%s.%t"\nRunTimeQuery="crun state %u.%j.%s.%t"\n'
    'RunTimeKill="crun kill -a %u.%j.%s.%t"\nRunTimeDelete="crun delete -f %u.%j.%s.%t"\n',
    "unknown-key": "Foo=1\n",
    "bad-regex": 'EnvExclude="(["\n',
    # what fuzzing found first: glibc's regcomp takes memory exponential in the stacked
    # repetitions (fuzz_conf.c skips such inputs; this one checks that it does)
    "regex-bomb": 'EnvExclude="^(SL' + "+" * 45 + 'URM|X)_.*"\n',
    "bad-pattern": 'RunTimeRun="runc %x run"\n',
    "shell": "RunTimeRun=runc run $(id) | cat\n",
    "quotes": "RunTimeRun='unterminated\n",
    "twice": "ContainerPath=/a\nContainerPath=/b\n",
    "size": "ImageCacheSize=18446744073709551615T\n",
    "comments": "# comment\n\n   \t\nRunTimeRun = \"runc run %b\" # trailing\n",
    "comments-ok": "# comment\n\n   \t\n  RunTimeRun=\"runc run %b\"   # trailing\n",
    "argv": 'RunTimeRun="runc run %@ --pid %p"\n',
}
for name, text in conf_extra.items():
    if name in ("keys", "size", "twice", "unknown-key", "bad-regex", "regex-bomb"):
        text = RUNTIME + text
    elif name != "create":
        text = KILL_DELETE + text
    put("conf", name, text)
put("conf", "empty", "")

# ---- pattern: the first byte is the allow mask (low 4 bits) and bit 4 for all variables --
templates = [
    "runc --root /run/x run", "  a \t\t b   c\t", "a\nb", "echo 'a $(x) | b; c && d'",
    "'back\\slash' '\"dq\"'", "\"say \\\"hi\\\"\"", "\"\\$HOME\" \"\\`id\\`\"", "a\\ b c",
    "\\$HOME \\| \\;", "a '' b \"\" c", "--opt='x y'z next", "echo 'abc", "runc run\\",
    "/usr/sbin/runc --root %m/runc run --bundle %b %u.%j.%s.%t",
    "runc kill %u.%j.%s.%t %p", "srun %@", "x%%y %% %%%q %", "%@b %@%@ %e %r %n %U",
    "crun --root=%m/crun create --bundle %b '%u %j' \"%t\"", "echo $(id)", "a|b;c&d>e<f(g)",
]
for i, t in enumerate(templates):
    put("pattern", f"t{i:02d}", bytes([0x1F if i % 2 == 0 else i & 0x0F]) + t.encode())

# ---- options: '0'+id own, 'a'+id inherited, 'E' NAME=VALUE -----------------------------
options = {
    "mounts": "0/a:/b,/c:/d/:ro,/e://f//g:rw\n",
    "mounts-bad": "0/a\n0a:/b\n0/a:b\n0/a:/b:rx\n0/a:/\n0/a:/x/../etc\n0/a:/proc/x\n0,\n0\n",
    "twice": "0/a:/b\n0/a:/b\n0/a:/c\n3/w\n3/v\n4A\n4B\n",
    "env": "4A,_B1\n4A,1B\n4PATH,HOME,LD_LIBRARY_PATH\n",
    "inherited": "a/a:/job\n0/a:/own\na/a:/job2\ne\n5\n6\n",
    "flags": "1\n2\n5\n6\n7\n8\n9\n:\n;\n<\nb\nc\n",
    "env-vars": "ESPANK_OCI_CONTAINER_MOUNTS=/data/in:/in:ro,/scratch:/s\n"
    "ESPANK_OCI_CONTAINER_ENV=PATH,HOME\nESPANK_OCI_CONTAINER_WORKDIR=/w\n"
    "ESPANK_OCI_CONTAINER_MOUNT_HOME=1\nESPANK_OCI_CONTAINER_REMAP_ROOT=1\n"
    "ESPANK_OCI_CONTAINER_WRITABLE=0\nESPANK_OCI_CONTAINER_ENTRYPOINT=1\n"
    "ESPANK_OCI_CONTAINER_SHARED=2\n",
    "env-bad": "ESPANK_OCI_CONTAINER_MOUNTS=/a\nESPANK_OCI_CONTAINER_ENV=1B\n0/etc:/x\n",
    "policy": "0/etc/passwd:/p,/root:/r,/scratch/x:/x,/:/y\n5\n",
}
for name, text in options.items():
    put("options", name, text)

# ---- layout: selector, index.json, manifest, config, layer (see fuzz_layout.c) -----------
SEP = "\n----\n"
MT = "application/vnd.oci.image"
config = ('{"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/bin:/bin"], '
          '"WorkingDir": "/work", "Entrypoint": ["/bin/sh"]}, "rootfs": {"type": "layers", '
          '"diff_ids": []}}')
layer_desc = '{"mediaType": "%s.layer.v1.tar+gzip", "digest": "@L@", "size": 25}' % MT
manifest = ('{"schemaVersion": 2, "mediaType": "%s.manifest.v1+json", "config": {"mediaType": '
            '"%s.config.v1+json", "digest": "@C@", "size": %d}, "layers": [%s, %s]}'
            % (MT, MT, len(config), layer_desc, layer_desc))


def index(*descs):
    return '{"schemaVersion": 2, "manifests": [%s]}' % ", ".join(descs)


def mdesc(digest="@M@", tag="latest"):
    ann = ', "annotations": {"org.opencontainers.image.ref.name": "%s"}' % tag if tag else ""
    return '{"mediaType": "%s.manifest.v1+json", "digest": "%s", "size": 400%s}' % (MT, digest, ann)


layouts = {
    "one": ["", index(mdesc()), manifest, config, "second layer: 25 bytes..."],
    "tag": [":latest", index(mdesc()), manifest, config, "x"],
    "digest": ["@@M@", index(mdesc(), mdesc("sha256:" + "0" * 64, "v2")), manifest, config, ""],
    "two": ["", index(mdesc(tag="v1"), mdesc(tag="v2")), manifest, config],
    "missing-tag": [":nope", index(mdesc()), manifest, config],
    "bad-digest": ["", index(mdesc("sha256:ABC")), manifest, config],
    "no-config": ["", index(mdesc()), '{"layers": []}'],
    "bad-layer": ["", index(mdesc()), manifest.replace("@L@", "sha512:00").replace('"size": 25', '"size": -1'), config],
    "not-json": ["", "{", "[", "null"],
    "no-index": [""],
    "types": ["", '{"manifests": {"digest": 1}}', '{"config": [], "layers": {}}', "[]"],
}
for name, parts in layouts.items():
    put("layout", name, SEP.join(parts))

# ---- unpack: tar layers ------------------------------------------------------------------


def tar(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            kind, name = e[0], e[1]
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = b""
            if kind == "f":
                data = e[2].encode() if len(e) > 2 else b"data\n"
                info.size = len(data)
                info.mode = e[3] if len(e) > 3 else 0o644
            elif kind == "d":
                info.type = tarfile.DIRTYPE
                info.mode = e[2] if len(e) > 2 else 0o755
            elif kind == "l":
                info.type = tarfile.SYMTYPE
                info.linkname = e[2]
            elif kind == "h":
                info.type = tarfile.LNKTYPE
                info.linkname = e[2]
            elif kind in "cb":
                info.type = tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE
                info.devmajor, info.devminor = 1, 3
            elif kind == "p":
                info.type = tarfile.FIFOTYPE
            t.addfile(info, io.BytesIO(data) if kind == "f" else None)
    return buf.getvalue()


NEXT = b"SPANK-OCI-FUZZ-NEXT-LAYER"
basic = [("d", "etc"), ("f", "etc/hosts", "127.0.0.1 localhost\n"), ("d", "bin"),
         ("f", "bin/sh", "#!\n", 0o755), ("l", "bin/bash", "sh"), ("h", "bin/ash", "bin/sh"),
         ("f", "usr/lib/x", "deep"), ("f", "./dot/slash", "x")]
layers = {
    "basic": tar(basic),
    "pax": tar(basic + [("f", "long/" + "n" * 120, "long name")], tarfile.PAX_FORMAT),
    "ustar": tar([("d", "a"), ("f", "a/b")], tarfile.USTAR_FORMAT),
    "gzip": gzip.compress(tar(basic), mtime=0),
    "special": tar([("c", "dev/null"), ("b", "dev/sda"), ("p", "fifo"),
                    ("f", "suid", "x", 0o6755), ("d", "ro", 0o500), ("f", "ro/f"),
                    ("d", "noexec", 0o600), ("f", "noexec/f")]),
    "dotdot": tar([("f", "../escape"), ("f", "a/../../escape2"), ("f", "a/../b")]),
    "absolute": tar([("f", "/tmp/escape"), ("l", "abs", "/etc"), ("f", "abs/passwd")]),
    "symlink-escape": tar([("l", "x", "../../../../canary"), ("f", "x/secret", "owned"),
                           ("l", "y", "../../.."), ("d", "y/newdir")]),
    "symlink-file": tar([("l", "s", "../../../../canary/secret"), ("f", "s", "overwrite")]),
    "hardlink-escape": tar([("h", "hl", "../../../../canary/secret"), ("l", "sl", "../../.."),
                            ("h", "hl2", "sl/keep"), ("f", "hl", "x")]),
    "whiteout": tar([("d", "a"), ("f", "a/f"), ("f", "a/g"), ("f", "b")]) + NEXT
    + tar([("f", "a/.wh.f", ""), ("f", ".wh.b", ""), ("f", "a/.wh..wh..opq", ""), ("f", "a/new")]),
    "whiteout-escape": tar([("f", ".wh..."), ("f", "a/.wh...", ""), ("f", ".wh.."),
                            ("f", "../.wh.canary")]),
    "replace": tar([("l", "dir", "../../../../canary"), ("d", "d2"), ("f", "d2/f")]) + NEXT
    + tar([("d", "dir"), ("f", "dir/secret", "inside"), ("l", "d2", "/etc"), ("f", "d2/x")]),
    "empty": b"",
}
for name, data in layers.items():
    put("unpack", name, data)
if shutil.which("zstd"):
    put("unpack", "zstd", subprocess.run(["zstd", "-q", "-c", "--no-check"], input=tar(basic),
                                         capture_output=True, check=True).stdout)
