/*
 * kexec-measured's resume purgatory (x86_64, GNU as, AT&T syntax).
 *
 * The running kernel's relocate_kernel copies the kexec_load segments to their destinations and then
 * jumps here: 64-bit mode, paging on with the kernel's identity map, interrupts off, and a GDTR that
 * still holds the old kernel's virtual address (so no segment register may be loaded before lgdt).
 * This code puts the CPU back into the state the emulator captured when the payload's
 * ExitBootServices returned, and jumps to where the payload went on:
 *   1. lgdt: a GDT in this page with the selectors the payload used (the emulator's CS 0x38/DS 0x30,
 *      and Linux's __BOOT_CS 0x10/__BOOT_DS 0x18), then a far return reloads CS, moves reload the rest;
 *   2. CR3 = an identity map of 0-4 GiB in 2 MiB pages built beside this page (the emulator ran with
 *      such a map; the payload's pointers are physical addresses); under 5-level paging (CR4.LA57, which
 *      cannot be turned off with paging on) a PML5 above the same PML4;
 *   3. CR0/CR4: the captured bits the payload relies on are set (FPU/SSE: MP, NE, OSFXSR, OSXMMEXCPT);
 *   4. RFLAGS and every general register from the parameter block, RSP last, then an indirect jump
 *      through the block to the captured RIP (no register and no stack slot is needed for it).
 *
 * Parameters live at fixed offsets from the start (.org 0x100 on); Purgatory.java fills them and must
 * agree with this layout. Assemble:  as --64 -o p.o purgatory-x86_64.S && objcopy -O binary -j .text p.o p.bin
 * (PurgatoryTest does exactly this and compares the bytes with Purgatory.CODE).
 */
	.text
	.code64
	.globl	purgatory_start
purgatory_start:
	cli
	cld
	lgdt	gdt_desc(%rip)
	movq	p_stack(%rip), %rsp
	movq	%cr4, %rax
	btq	$12, %rax		/* CR4.LA57: the kernel runs 5-level paging, CR3 must name a PML5 */
	movq	p_cr3(%rip), %rax
	jnc	2f
	movq	p_cr3_la57(%rip), %rax
2:	movq	%rax, %cr3
	movq	%cr4, %rax
	orq	p_cr4(%rip), %rax
	movq	%rax, %cr4
	movq	%cr0, %rax
	orq	p_cr0(%rip), %rax
	movq	%rax, %cr0
	pushq	p_cs(%rip)
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:	movq	p_ds(%rip), %rax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	pushq	p_rflags(%rip)
	popfq
	movq	p_rax(%rip), %rax
	movq	p_rbx(%rip), %rbx
	movq	p_rcx(%rip), %rcx
	movq	p_rdx(%rip), %rdx
	movq	p_rsi(%rip), %rsi
	movq	p_rdi(%rip), %rdi
	movq	p_rbp(%rip), %rbp
	movq	p_r8(%rip), %r8
	movq	p_r9(%rip), %r9
	movq	p_r10(%rip), %r10
	movq	p_r11(%rip), %r11
	movq	p_r12(%rip), %r12
	movq	p_r13(%rip), %r13
	movq	p_r14(%rip), %r14
	movq	p_r15(%rip), %r15
	movq	p_rsp(%rip), %rsp
	jmp	*p_rip(%rip)

	.org	0x100
gdt_desc:	.word 0		/* limit, filled in */
		.quad 0		/* base: the GDT's physical address, filled in */
	.org	0x110
p_stack:	.quad 0		/* top of this purgatory's own stack */
p_cr3:		.quad 0		/* the identity map's PML4 */
p_cr0:		.quad 0		/* CR0 bits to set */
p_cr4:		.quad 0		/* CR4 bits to set */
p_cs:		.quad 0
p_ds:		.quad 0
p_rflags:	.quad 0
p_rip:		.quad 0
p_rax:		.quad 0		/* 0x150 */
p_rbx:		.quad 0
p_rcx:		.quad 0
p_rdx:		.quad 0
p_rsi:		.quad 0
p_rdi:		.quad 0
p_rbp:		.quad 0
p_rsp:		.quad 0
p_r8:		.quad 0		/* 0x190 */
p_r9:		.quad 0
p_r10:		.quad 0
p_r11:		.quad 0
p_r12:		.quad 0
p_r13:		.quad 0
p_r14:		.quad 0
p_r15:		.quad 0
p_cr3_la57:	.quad 0		/* 0x1d0: a PML5 whose first entry is the PML4 */
	.org	0x200
gdt:		.fill 8, 8, 0	/* 8 descriptors, filled in */
	.org	0x240
