/*
 * spank-oci-holder: the first process of a shared container (shared mode, shared.h). It
 * only waits, holding the container's namespaces for the step's tasks to join, until
 * RunTimeKill/RunTimeDelete kill it. Static: it runs in the container's root file
 * system, which may have no C library. It is built into spank_oci.so and spank-oci
 * (holder_image.S) and run from a memfd, so there is nothing to install for it.
 */
#include <signal.h>
#include <unistd.h>

int main(void)
{
	/* signals for the whole step (scancel --signal, srun's) are the tasks' business */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_IGN);
	for (;;)
		pause();
}
