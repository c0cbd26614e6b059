/* What every spank-oci message starts with, and the PATH its helpers run with. */
#ifndef SPANK_OCI_MESSAGES_H
#define SPANK_OCI_MESSAGES_H

/* On the user's stderr and in slurmd's log: "spank-oci: <what>: <why>". */
#define SPANK_OCI_PREFIX "spank-oci: "

/* The system directories: where programs are looked for after the job's own PATH. */
#define SPANK_OCI_SYSTEM_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#endif
