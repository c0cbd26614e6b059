/* The spank-oci-holder executable (holder/holder.c) as data: holder.c runs it from a memfd. */
	.section .rodata
	.balign 16
	.globl spank_oci_holder_start
	.hidden spank_oci_holder_start
spank_oci_holder_start:
	.incbin HOLDER_BINARY
	.globl spank_oci_holder_end
	.hidden spank_oci_holder_end
spank_oci_holder_end:
	.section .note.GNU-stack,"",%progbits
