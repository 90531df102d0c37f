// The cross-view check's walks and verdicts on synthetic kernel memory: the
// PID table's xarray, the red-black tree walk, the comparison of views (what
// is a finding, what is normal) and the guest's own process list.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "SyntheticLinux.hpp"
#include "vmi/linux/GuestProcessList.hpp"
#include "vmi/linux/KernelRbTree.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"
#include "vmi/linux/TaskCrossView.hpp"

using vmi_test::SyntheticLinux;

namespace {

// Offsets of the cross-view fields in the synthetic task_struct and struct pid
// (clear of SyntheticLinux's own fields, which end at 0x1e0).
constexpr std::uint64_t THREAD_PID = 0x1e8;
constexpr std::uint64_t PID_LINKS = 0x200;
constexpr std::uint64_t PID_TASKS = 0x10;
constexpr std::uint64_t PID_NUMBERS = 0x60;
constexpr std::uint64_t NS_IDR_HEAD = 0x8;
constexpr std::uint64_t XA_SLOTS = 40; // struct xa_node on x86-64
constexpr std::uint32_t EXIT_ZOMBIE = 0x20;

struct PidKernel {
    SyntheticLinux k{vmi_test::kernel_shapes()[3]}; // 6.7: threads on signal->thread_head
    vmi::ConfigEntry entry;
    std::uint64_t ns = 0;
    std::uint64_t node = 0; // the one xa_node: pids 0..63

    PidKernel()
    {
        entry = k.entry();
        for (const auto& [key, value] :
             std::vector<std::pair<std::string, std::uint64_t>>{{"linux_thread_pid", THREAD_PID},
                                                                {"linux_pid_links", PID_LINKS},
                                                                {"linux_pid_tasks", PID_TASKS},
                                                                {"linux_pid_numbers", PID_NUMBERS},
                                                                {"linux_upid_nr", 0},
                                                                {"linux_pid_ns_idr_head", NS_IDR_HEAD},
                                                                {"linux_xa_node_shift", 0},
                                                                {"linux_xa_node_slots", XA_SLOTS},
                                                                {"linux_xa_node_slots_len", 64}})
            entry.values[key] = vmi::ConfigValue{value};
        ns = k.allocate(0x100);
        node = k.allocate(0x240);
        k.put64(ns + NS_IDR_HEAD, node | 2); // an internal entry: a node pointer
    }

    // A struct pid for `task`, in the PID table unless `in_table` is false.
    void give_pid(std::uint64_t task, std::uint32_t nr, bool in_table = true)
    {
        std::uint64_t pid = k.allocate(0x80);
        k.put32(pid + PID_NUMBERS, nr);
        k.put64(pid + PID_TASKS, task + PID_LINKS); // tasks[PIDTYPE_PID].first
        k.put64(task + THREAD_PID, pid);
        if (in_table) k.put64(node + XA_SLOTS + 8ULL * nr, pid);
    }

    vmi::LinuxLayout layout() const { return vmi::LinuxLayout::resolve(&entry, nullptr); }
};

SyntheticLinux::Task task(std::int32_t pid, std::string comm, std::int32_t tgid = 0, std::uint32_t exit_state = 0)
{
    SyntheticLinux::Task spec;
    spec.pid = pid;
    spec.tgid = tgid;
    spec.comm = std::move(comm);
    spec.exit_state = exit_state;
    return spec;
}

std::set<std::uint64_t> as_set(const std::unordered_set<std::uint64_t>& s) { return {s.begin(), s.end()}; }

// A view `id` that saw `objects`, with `problems` and walked whole or not.
vmi::ObjectView seen_view(std::string id, std::unordered_set<std::uint64_t> objects,
                          std::vector<vmi::WalkProblem> problems = {}, bool complete = true)
{
    vmi::ObjectView view(std::move(id));
    view.objects = std::move(objects);
    view.problems = std::move(problems);
    view.complete = complete;
    return view;
}

bool mentions(const std::vector<std::string>& problems, const std::string& text)
{
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) { return p.find(text) != p.npos; });
}

} // namespace

TEST_CASE("PID table: every struct pid in init_pid_ns's xarray leads to its task; a pid out of the table is not seen")
{
    PidKernel p;
    std::uint64_t init = p.k.add_process(task(1, "init"));
    std::uint64_t daemon = p.k.add_process(task(7, "daemon"));
    std::uint64_t thread = p.k.add_thread(daemon, task(8, "daemon", 7));
    std::uint64_t hidden = p.k.add_process(task(9, "hidden"));
    p.give_pid(init, 1);
    p.give_pid(daemon, 7);
    p.give_pid(thread, 8);
    p.give_pid(hidden, 9, false);
    vmi::LinuxLayout layout = p.layout();
    vmi::ObjectView view = vmi::pid_table_view(p.k.kernel(), layout, p.ns, 1000);
    CHECK(view.available);
    CHECK(view.problems.empty());
    CHECK(as_set(view.objects) == std::set<std::uint64_t>{init, daemon, thread});
}

TEST_CASE("PID table: a hostile xarray (a node in itself, a wrong number, a bad pointer) ends in problems, not a hang")
{
    PidKernel p;
    std::uint64_t init = p.k.add_process(task(1, "init"));
    p.give_pid(init, 1);
    std::uint64_t liar = p.k.add_process(task(2, "liar"));
    p.give_pid(liar, 3);                                                // its struct pid says 3...
    p.k.put64(p.node + XA_SLOTS + 8 * 2, p.k.get64(liar + THREAD_PID)); // ...and sits at index 2
    p.k.put64(p.node + XA_SLOTS + 8 * 3, 0);
    p.k.put64(p.node + XA_SLOTS + 8 * 4, 0x1234); // not a kernel address
    SUBCASE("a node that holds itself")
    {
        p.k.put64(p.node, 6); // shift 6: slots hold nodes
        p.k.put64(p.node + XA_SLOTS + 8 * 5, p.node | 2);
    }
    vmi::LinuxLayout layout = p.layout();
    vmi::ObjectView view = vmi::pid_table_view(p.k.kernel(), layout, p.ns, 1000);
    CHECK_FALSE(view.problems.empty());
    CHECK_FALSE(view.objects.contains(liar));
}

TEST_CASE("PID table: unavailable without its layout fields, never an error")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[1]);
    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&k.entry(), nullptr);
    vmi::ObjectView view = vmi::pid_table_view(k.kernel(), layout, k.allocate(0x100), 1000);
    CHECK_FALSE(view.available);
    CHECK(view.unavailable.find("linux_pid_tasks") != std::string::npos);
}

TEST_CASE("red-black tree walk: every node once; a loop or a bad pointer ends it with a problem")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    // rb_node: parent+colour, right, left.
    std::uint64_t root = k.allocate(24), left = k.allocate(24), right = k.allocate(24), leaf = k.allocate(24);
    k.put64(root + 16, left);
    k.put64(root + 8, right);
    k.put64(left + 8, leaf);
    std::vector<std::uint64_t> seen;
    auto visit = [&](std::uint64_t node) { seen.push_back(node); };
    vmi::TreeWalkResult whole = vmi::walk_rb_tree(k.kernel(), root, 100, "tree", visit);
    CHECK(whole.complete());
    CHECK(std::set<std::uint64_t>(seen.begin(), seen.end()) == std::set<std::uint64_t>{root, left, right, leaf});

    k.put64(leaf + 16, root); // back up the tree
    seen.clear();
    vmi::TreeWalkResult looped = vmi::walk_rb_tree(k.kernel(), root, 100, "tree", visit);
    CHECK(looped.problem.find("reached twice") != std::string::npos);
    CHECK(std::set<std::uint64_t>(seen.begin(), seen.end()).size() == seen.size()); // none visited twice

    k.put64(leaf + 16, 0x10);
    CHECK(vmi::walk_rb_tree(k.kernel(), root, 100, "tree", visit).problem.find("not a kernel address") !=
          std::string::npos);
    CHECK(vmi::walk_rb_tree(k.kernel(), root, 2, "tree", visit).problem.find("more than 2") != std::string::npos);
}

TEST_CASE("cross view: a gap in a view that must hold the task is a finding; idle, threads, exiting tasks are normal")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    std::uint64_t init = k.add_process(task(1, "init"));
    std::uint64_t unlinked = k.add_process(task(5, "sleep"));
    std::uint64_t daemon = k.add_process(task(7, "daemon"));
    std::uint64_t thread = k.add_thread(daemon, task(8, "daemon", 7));
    std::uint64_t zombie = k.add_process(task(9, "gone", 0, EXIT_ZOMBIE));
    std::uint64_t runner = k.add_process(task(11, "runner"));
    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&k.entry(), nullptr);
    vmi::LinuxTaskList reader(k.kernel(), layout);

    auto view = [](std::string id, std::unordered_set<std::uint64_t> tasks) {
        return seen_view(std::move(id), std::move(tasks));
    };
    std::vector<vmi::ObjectView> views{
        view("tasks", {init, daemon, runner}),                       // unlinked and the zombie missing
        view("pid_table", {init, unlinked, daemon, thread, runner}), // the zombie's pid already freed
        view("children", {init, unlinked, daemon, zombie, runner}),
        view("threads", {init, unlinked, daemon, thread, zombie, runner, k.init_task()}),
        view("runqueue", {k.init_task(), runner}),
    };
    std::vector<vmi::GuestProcess> guest{{1, "init"}, {7, "daemon"}, {9, "gone"}, {11, "runner"}, {30, "ended"}};
    vmi::TaskCrossView check = vmi::cross_view_tasks(views, reader, {k.init_task()}, guest);

    auto entry = [&](std::uint64_t task) -> const vmi::CrossViewTask& {
        auto it = std::find_if(check.entries.begin(), check.entries.end(),
                               [&](const vmi::CrossViewTask& t) { return t.object.address == task; });
        REQUIRE(it != check.entries.end());
        return *it;
    };
    CHECK(check.found_hidden());
    const vmi::CrossViewTask& victim = entry(unlinked);
    CHECK(victim.hidden);
    CHECK(victim.missed_by == std::vector<std::string>{"tasks", "guest"});
    CHECK(victim.meaning.find("unlinked from the task list") != std::string::npos);
    CHECK_FALSE(entry(init).hidden);
    CHECK_FALSE(entry(thread).hidden); // leader-only views and the guest's list do not count
    CHECK(entry(thread).meaning.find("thread") != std::string::npos);
    CHECK_FALSE(entry(zombie).hidden); // exiting: leaves the lists one by one
    CHECK(entry(zombie).meaning.find("exiting") != std::string::npos);
    CHECK_FALSE(entry(k.init_task()).hidden); // the idle task is on no list
    CHECK(entry(k.init_task()).meaning.find("idle task") != std::string::npos);
    CHECK(std::count_if(check.entries.begin(), check.entries.end(), [](const auto& t) { return t.hidden; }) == 1);
    CHECK(mentions(check.warnings, "pid 30 (ended)"));

    SUBCASE("a process the guest's list lacks whose pid is above all it lists started afterwards")
    {
        std::vector<std::string> ids;
        std::vector<vmi::GuestProcess> early{{1, "init"}, {5, "sleep"}, {7, "daemon"}, {9, "gone"}};
        vmi::TaskCrossView later = vmi::cross_view_tasks(views, reader, {k.init_task()}, early);
        auto it = std::find_if(later.entries.begin(), later.entries.end(),
                               [&](const vmi::CrossViewTask& t) { return t.object.address == runner; });
        REQUIRE(it != later.entries.end());
        CHECK_FALSE(it->hidden);
        CHECK(it->meaning.find("started after") != std::string::npos);
    }
}

TEST_CASE("cross view: a task seen only by a runqueue is unlinked from every list")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    std::uint64_t ghost = k.add_process(task(66, "ghost"));
    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&k.entry(), nullptr);
    vmi::LinuxTaskList reader(k.kernel(), layout);
    std::vector<vmi::ObjectView> views{seen_view("tasks", {}), seen_view("runqueue", {ghost})};
    vmi::TaskCrossView check = vmi::cross_view_tasks(views, reader, {}, std::nullopt);
    REQUIRE(check.entries.size() == 1);
    CHECK(check.entries[0].hidden);
    CHECK(check.entries[0].meaning.find("found only in a runqueue") != std::string::npos);
}

TEST_CASE("the guest's own list: ps -e -o pid=,comm=, busybox ps with its header, /proc names; junk skipped")
{
    std::istringstream ps(
        "  PID  PPID USER     STAT COMMAND\n    1     0 0        S    init\n  106     1 0   S  sleep\n"
        "\n 12 kworker/0:1-events\nnot a pid\n-5 minus\n99999999999999999999 huge\n/proc/42\n7\n");
    std::vector<vmi::GuestProcess> list = vmi::parse_guest_process_list(ps);
    std::vector<std::pair<std::int64_t, std::string>> got;
    for (const vmi::GuestProcess& p : list) got.emplace_back(p.pid, p.name);
    CHECK(got == std::vector<std::pair<std::int64_t, std::string>>{
                     {1, "init"}, {106, "sleep"}, {12, "kworker/0:1-events"}, {42, ""}, {7, ""}});
    std::istringstream many("1\n2\n3\n");
    CHECK_THROWS(vmi::parse_guest_process_list(many, 2));
}

TEST_CASE("cross view: a view whose walk stopped early raises no finding by what it lacks; a broken back link does")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    std::uint64_t init = k.add_process(task(1, "init"));
    std::uint64_t daemon = k.add_process(task(7, "daemon"));
    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&k.entry(), nullptr);
    vmi::LinuxTaskList reader(k.kernel(), layout);
    SUBCASE("stopped early")
    {
        std::vector<vmi::ObjectView> views{
            seen_view("tasks", {init}, {vmi::walk_stopped("task list: task 0x... has next pointer 0x10")}, false),
            seen_view("pid_table", {init, daemon})};
        vmi::TaskCrossView check = vmi::cross_view_tasks(views, reader, {}, std::nullopt);
        CHECK_FALSE(check.found_hidden());
        CHECK(mentions(check.problem_messages(), "next pointer 0x10"));
    }
    SUBCASE("went round, with a link whose prev does not point back (a sloppy unlink)")
    {
        std::vector<vmi::ObjectView> views{
            seen_view("tasks", {init}, {vmi::broken_link("task list: entry 0x... comes after ... but its prev is")}),
            seen_view("pid_table", {init, daemon})};
        vmi::TaskCrossView check = vmi::cross_view_tasks(views, reader, {}, std::nullopt);
        CHECK(check.found_hidden());
        CHECK(mentions(check.problem_messages(), "its prev is"));
    }
}

TEST_CASE("runqueues: rq->curr and rq->idle, the CFS tree into a group's own tree, an RT queue")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    constexpr std::uint64_t RQ_CPU = 0x10, RQ_CURR = 0x20, RQ_IDLE = 0x28, RQ_CFS = 0x40, RQ_RT = 0x100;
    constexpr std::uint64_t TASK_SE = 0x260, SE_RUN_NODE = 0x10, SE_MY_Q = 0x40, CFS_RQ_TIMELINE = 0x30;
    constexpr std::uint64_t TASK_RT = 0x2c0;
    vmi::ConfigEntry entry = k.entry();
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::uint64_t>>{{"linux_rq_cpu", RQ_CPU},
                                                            {"linux_rq_curr", RQ_CURR},
                                                            {"linux_rq_idle", RQ_IDLE},
                                                            {"linux_rq_cfs_timeline", RQ_CFS},
                                                            {"linux_cfs_rq_timeline", CFS_RQ_TIMELINE},
                                                            {"linux_task_se", TASK_SE},
                                                            {"linux_se_run_node", SE_RUN_NODE},
                                                            {"linux_se_my_q", SE_MY_Q},
                                                            {"linux_rq_rt_queue", RQ_RT},
                                                            {"linux_rt_queue_len", 100},
                                                            {"linux_task_rt", TASK_RT},
                                                            {"linux_rt_se_run_list", 0}})
        entry.values[key] = vmi::ConfigValue{value};
    std::uint64_t running = k.add_process(task(10, "running"));
    std::uint64_t runnable = k.add_process(task(11, "runnable"));
    std::uint64_t grouped = k.add_process(task(12, "grouped"));
    std::uint64_t realtime = k.add_process(task(13, "realtime"));
    std::uint64_t rq = k.allocate(0x800);
    for (std::uint64_t q = 0; q < 100; ++q) k.link_self(rq + RQ_RT + q * 16);
    std::uint64_t per_cpu_offset = k.allocate(8); // CPU 0's offset: 0, rq is where the symbol says
    std::uint64_t nr_cpu_ids = k.allocate(8);
    k.put32(nr_cpu_ids, 1);
    k.put64(rq + RQ_CURR, running);
    k.put64(rq + RQ_IDLE, k.init_task());
    // The CFS tree: `runnable` at the root, a group entity on its left whose
    // own queue holds `grouped`.
    std::uint64_t group_se = k.allocate(0x100);
    std::uint64_t group_queue = k.allocate(0x100);
    k.put64(rq + RQ_CFS, runnable + TASK_SE + SE_RUN_NODE);
    k.put64(runnable + TASK_SE + SE_RUN_NODE + 16, group_se + SE_RUN_NODE); // rb_left
    k.put64(group_se + SE_MY_Q, group_queue);
    k.put64(group_queue + CFS_RQ_TIMELINE, grouped + TASK_SE + SE_RUN_NODE);
    k.insert_before(rq + RQ_RT + 5 * 16, realtime + TASK_RT);

    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&entry, nullptr);
    std::unordered_set<std::uint64_t> idle;
    vmi::ObjectView view = vmi::runqueue_view(k.kernel(), layout, {rq, per_cpu_offset, nr_cpu_ids}, 1000, idle);
    CHECK(view.available);
    CHECK(view.problems.empty());
    CHECK(as_set(view.objects) == std::set<std::uint64_t>{running, runnable, grouped, realtime, k.init_task()});
    CHECK(as_set(idle) == std::set<std::uint64_t>{k.init_task()});

    SUBCASE("a group queue that holds its own entity ends in a problem, not a hang")
    {
        k.put64(group_queue + CFS_RQ_TIMELINE, group_se + SE_RUN_NODE);
        vmi::ObjectView looped = vmi::runqueue_view(k.kernel(), layout, {rq, per_cpu_offset, nr_cpu_ids}, 1000, idle);
        CHECK_FALSE(looped.problems.empty());
    }
}

TEST_CASE("a view whose layout part is missing is unavailable, naming the keys it lacks")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&k.entry(), nullptr);
    vmi::LayoutPart<vmi::RunqueueOffsets> part = layout.runqueue_offsets();
    CHECK_FALSE(part.offsets);
    CHECK(part.missing == std::vector<std::string_view>{"linux_rq_curr", "linux_rq_idle", "linux_rq_cfs_timeline",
                                                        "linux_se_run_node", "linux_task_se"});
    std::unordered_set<std::uint64_t> idle;
    vmi::ObjectView view = vmi::runqueue_view(k.kernel(), layout, {0x1000, 0x2000, 0x3000}, 100, idle);
    CHECK_FALSE(view.available);
    CHECK(view.unavailable == "the layout has no linux_rq_curr, linux_rq_idle, linux_rq_cfs_timeline, "
                              "linux_se_run_node, linux_task_se");
    CHECK(view.objects.empty());
}
