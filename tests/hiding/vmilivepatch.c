// SPDX-License-Identifier: GPL-2.0
/*
 * vmilivepatch - TEST FIXTURE for vmitools, not a tool.
 *
 * A legitimate user of ftrace in a clean hook guest (tests/hiding/README.md, "Hook
 * guests"): a livepatch that replaces cmdline_proc_show(), the function behind
 * /proc/cmdline. Livepatch redirects the old function through an ftrace op with
 * IPMODIFY whose callback (klp_ftrace_handler) is core kernel text, so `vmi-hooks
 * --check` must not report it. Built for the test guests' 6.1.0-50-amd64 kernel only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int vmi_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "vmilivepatch: /proc/cmdline is livepatched\n");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = vmi_cmdline_proc_show },
	{}
};

static struct klp_object objs[] = {
	{ .funcs = funcs },	/* no name: vmlinux */
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init vmilivepatch_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit vmilivepatch_exit(void)
{
}

module_init(vmilivepatch_init);
module_exit(vmilivepatch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("vmitools test fixture: livepatches /proc/cmdline in a test guest");
