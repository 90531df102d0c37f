// The Linux layer's task and module lists on synthetic kernel memory: every
// field on the layouts of 4.x, 5.14, 6.4 and 6.7 kernels, and what a hostile
// or torn guest can do to the lists.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "SyntheticLinux.hpp"
#include "vmi/linux/LinuxModuleList.hpp"
#include "vmi/linux/LinuxTaskList.hpp"

using vmi_test::KernelShape;
using vmi_test::SyntheticLinux;

namespace {

constexpr std::uint32_t PF_KTHREAD = 0x00200000;

vmi::LinuxLayout layout_of(const SyntheticLinux& linux_memory)
{
    return vmi::LinuxLayout::resolve(&linux_memory.entry(), nullptr);
}

const vmi::LinuxTask* find(const vmi::TaskListing& listing, std::int64_t tid)
{
    for (const vmi::LinuxTask& task : listing.tasks)
        if (task.tid == tid) return &task;
    return nullptr;
}

bool mentions(const std::vector<vmi::WalkProblem>& problems, const std::string& text)
{
    return std::any_of(problems.begin(), problems.end(),
                       [&](const vmi::WalkProblem& p) { return p.message.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE("task list on the layouts of 4.x, 5.14, 6.4 and 6.7 kernels: every field, threads, command lines")
{
    for (const KernelShape& shape : vmi_test::kernel_shapes()) {
        INFO("kernel shape " << shape.name);
        SyntheticLinux k(shape);
        std::uint64_t init =
            k.add_process({.pid = 1, .comm = "init", .state = 1, .cmdline = std::string("/sbin/init\0", 11)});
        k.add_process({.pid = 2, .comm = "kthreadd", .state = 1, .flags = PF_KTHREAD});
        std::uint64_t daemon = k.add_process({.pid = 40,
                                              .comm = "daemon",
                                              .parent = init,
                                              .uid = 1000,
                                              .gid = 100,
                                              .state = 0,
                                              .cmdline = std::string("/usr/bin/daemon\0--flag\0", 23)});
        k.add_thread(daemon, {.pid = 41, .tgid = 40, .comm = "worker", .uid = 1000, .gid = 100});
        k.add_thread(daemon, {.pid = 42, .tgid = 40, .comm = "worker", .uid = 1000, .gid = 100, .state = 2});
        k.add_process({.pid = 50, .comm = "zombie", .parent = daemon, .state = 0, .exit_state = 0x20});

        vmi::LinuxLayout layout = layout_of(k);
        vmi::LinuxTaskList list(k.kernel(), layout);
        vmi::TaskListing processes = list.list(k.init_task(), {});
        CHECK(processes.problems.empty());
        REQUIRE(processes.tasks.size() == 4);
        const vmi::LinuxTask* d = find(processes, 40);
        REQUIRE(d);
        CHECK(d->pid == 40);
        CHECK(d->ppid == 1);
        CHECK(d->uid == 1000u);
        CHECK(d->gid == 100u);
        CHECK(d->state == 'R');
        CHECK(d->name == "daemon");
        CHECK(d->kernel_thread == false);
        REQUIRE(d->dtb.has_value());
        CHECK(list.command_line(*d) == "/usr/bin/daemon --flag");
        CHECK(find(processes, 2)->kernel_thread == true);
        CHECK(list.command_line(*find(processes, 2)) == "[kthreadd]");
        CHECK(find(processes, 50)->state == 'Z');
        CHECK(find(processes, 50)->ppid == 40);
        CHECK(find(processes, 1)->ppid == 0); // its parent is init_task (pid 0)

        vmi::TaskListing all = list.list(k.init_task(), {.threads = true});
        CHECK(all.problems.empty());
        CHECK(all.tasks.size() == 6);
        REQUIRE(find(all, 42));
        CHECK(find(all, 42)->pid == 40);
        CHECK(find(all, 42)->tid == 42);
        CHECK(find(all, 42)->state == 'D');
    }
}

TEST_CASE("task state letters follow fs/proc/array.c: idle is a mask, RT-lock waiters and frozen tasks show as D")
{
    CHECK(vmi::linux_task_state_letter(0x0000, 0) == 'R');
    CHECK(vmi::linux_task_state_letter(0x0001, 0) == 'S');
    CHECK(vmi::linux_task_state_letter(0x0002, 0) == 'D');
    CHECK(vmi::linux_task_state_letter(0x0004, 0) == 'T');
    CHECK(vmi::linux_task_state_letter(0x0008, 0) == 't');
    CHECK(vmi::linux_task_state_letter(0x0000, 0x10) == 'X');
    CHECK(vmi::linux_task_state_letter(0x0000, 0x20) == 'Z');
    CHECK(vmi::linux_task_state_letter(0x0040, 0) == 'P');
    // TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD, with or without other bits.
    CHECK(vmi::linux_task_state_letter(0x0402, 0) == 'I');
    CHECK(vmi::linux_task_state_letter(0x0402 | 0x0100, 0) == 'I'); // and TASK_WAKEKILL
    CHECK(vmi::linux_task_state_letter(0x0400, 0) == 'R');          // TASK_NOLOAD alone is not idle
    // TASK_RTLOCK_WAIT and TASK_FROZEN report as uninterruptible.
    CHECK(vmi::linux_task_state_letter(0x1000, 0) == 'D');
    CHECK(vmi::linux_task_state_letter(0x8000, 0) == 'D');
    CHECK(vmi::linux_task_state_letter(0x8000 | 0x0001, 0) == 'D');
}

TEST_CASE("a LibVMI config entry's five keys list every process; the other columns are unavailable")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[1]);
    k.add_process({.pid = 1, .comm = "init"});
    k.add_process({.pid = 7, .comm = "sshd", .uid = 0, .cmdline = std::string("sshd\0", 5)});
    vmi::ConfigEntry five;
    for (const char* key : {"linux_tasks", "linux_mm", "linux_pid", "linux_name", "linux_pgd"})
        five.values[key] = vmi::ConfigValue{k.key(key)};
    vmi::LinuxLayout layout = vmi::LinuxLayout::resolve(&five, nullptr);
    vmi::LinuxTaskList list(k.kernel(), layout);
    vmi::TaskListing listing = list.list(k.init_task(), {});
    CHECK(listing.problems.empty());
    REQUIRE(listing.tasks.size() == 2);
    const vmi::LinuxTask* sshd = find(listing, 7);
    REQUIRE(sshd);
    CHECK(sshd->pid == 7);
    CHECK(sshd->name == "sshd");
    CHECK(sshd->dtb.has_value());
    CHECK_FALSE(sshd->ppid.has_value());
    CHECK_FALSE(sshd->uid.has_value());
    CHECK_FALSE(sshd->state.has_value());
    // What vmi-ps's ppid and uid columns need (their rows' `needs`) is missing.
    CHECK(layout.missing({"linux_parent"}) == std::vector<std::string_view>{"linux_parent"});
    CHECK(layout.missing({"linux_cred", "linux_cred_uid", "linux_pid"}) ==
          std::vector<std::string_view>{"linux_cred", "linux_cred_uid"});
    CHECK_FALSE(list.command_line(*sshd).has_value()); // no arg_start/arg_end keys
    CHECK_THROWS_WITH_AS(list.list(k.init_task(), {.threads = true}), doctest::Contains("listing threads needs"),
                         vmi::Error);
}

TEST_CASE("a bad field of one task is marked and named; the walk goes on")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[2]);
    k.add_process({.pid = 1, .comm = "init"});
    std::uint64_t victim = k.add_process({.pid = 2, .comm = "victim"});
    std::uint64_t nameless = k.add_process({.pid = 3, .comm = "nameless"});
    k.add_process({.pid = 4, .comm = "last", .uid = 33});
    k.put64(victim + k.key("linux_cred"), 0x10);                     // not a kernel address
    k.put_bytes(nameless + k.key("linux_name"), "0123456789abcdef"); // no NUL in 16 bytes

    vmi::LinuxLayout layout = layout_of(k);
    vmi::TaskListing listing = vmi::LinuxTaskList(k.kernel(), layout).list(k.init_task(), {});
    REQUIRE(listing.tasks.size() == 4);
    const vmi::LinuxTask* v = find(listing, 2);
    CHECK(v->bad("uid"));
    CHECK(v->bad("gid"));
    CHECK_FALSE(v->bad("name"));
    CHECK(v->name == "victim");
    CHECK(find(listing, 3)->bad("name"));
    CHECK(find(listing, 4)->uid == 33u);
    CHECK(mentions(listing.problems, "cred pointer 0x10 is not a kernel address"));
    CHECK(mentions(listing.problems, "unterminated name"));
    // Fields of single tasks: typed as such, so the cross view leaves them out.
    for (const vmi::WalkProblem& problem : listing.problems) {
        CHECK(problem.kind == vmi::WalkProblem::Kind::field_unreadable);
        CHECK_FALSE(problem.concerns_walk());
        CHECK((problem.object == v->address || problem.object == find(listing, 3)->address));
    }
    CHECK(listing.complete);
}

TEST_CASE("a link whose prev does not point back is reported, and the walk goes on")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[3]);
    k.add_process({.pid = 1, .comm = "init"});
    std::uint64_t second = k.add_process({.pid = 2, .comm = "two"});
    k.add_process({.pid = 3, .comm = "three"});
    // What a torn read or a half-done unlink leaves: two.prev points elsewhere.
    k.put64(second + k.key("linux_tasks") + 8, 0xffff888000abc000ULL);
    vmi::LinuxLayout layout = layout_of(k);
    vmi::TaskListing listing = vmi::LinuxTaskList(k.kernel(), layout).list(k.init_task(), {});
    CHECK(listing.tasks.size() == 3);
    REQUIRE(listing.problems.size() == 1);
    CHECK(listing.problems[0].message.find("its prev is 0xffff888000abc000") != std::string::npos);
    CHECK(listing.problems[0].kind == vmi::WalkProblem::Kind::broken_link);
    CHECK(listing.problems[0].concerns_walk());
}

TEST_CASE("a thread list that leads into other processes lists nobody twice and stays linear")
{
    for (const KernelShape& shape : {vmi_test::kernel_shapes()[1], vmi_test::kernel_shapes()[3]}) {
        INFO("kernel shape " << shape.name);
        SyntheticLinux k(shape);
        std::vector<std::uint64_t> leaders;
        for (int pid = 1; pid <= 60; ++pid)
            leaders.push_back(k.add_process({.pid = pid, .comm = "p" + std::to_string(pid)}));
        // Every leader's thread list is made to run through every other leader:
        // chained through their thread links, a walk from any of them would
        // meet all 60 again (60 x 60 rows without the bound).
        std::string link = shape.threads_on_signal ? "linux_thread_node" : "linux_thread_group";
        for (std::size_t i = 0; i < leaders.size(); ++i) {
            std::uint64_t next = leaders[(i + 1) % leaders.size()] + k.key(link);
            std::uint64_t prev = leaders[(i + leaders.size() - 1) % leaders.size()] + k.key(link);
            k.put64(leaders[i] + k.key(link), next);
            k.put64(leaders[i] + k.key(link) + 8, prev);
        }
        if (shape.threads_on_signal)
            for (std::uint64_t leader : leaders) {
                // Each signal_struct's head joins the same ring at the first leader.
                std::uint64_t signal = k.get64(leader + k.key("linux_signal"));
                k.put64(signal + k.key("linux_signal_thread_head"), leaders[0] + k.key(link));
            }
        vmi::LinuxLayout layout = layout_of(k);
        vmi::TaskListing listing = vmi::LinuxTaskList(k.kernel(), layout).list(k.init_task(), {.threads = true});
        std::set<std::uint64_t> addresses;
        for (const vmi::LinuxTask& task : listing.tasks) addresses.insert(task.address);
        CHECK(addresses.size() == listing.tasks.size());
        CHECK(listing.tasks.size() == 60);
        CHECK(mentions(listing.problems, "already listed"));
        CHECK(k.memory().reads < 60 * 60 * 4); // a quadratic walk reads far more
    }
}

TEST_CASE("the walks are bounded: a cap ends them with a problem")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[1]);
    for (int pid = 1; pid <= 20; ++pid) k.add_process({.pid = pid, .comm = "p"});
    vmi::LinuxLayout layout = layout_of(k);
    vmi::TaskListing listing = vmi::LinuxTaskList(k.kernel(), layout).list(k.init_task(), {.max_tasks = 5});
    CHECK(listing.tasks.size() == 5);
    CHECK(mentions(listing.problems, "more than 5 entries"));
}

TEST_CASE("a command line longer than the cap is cut and marked")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[2]);
    std::string args = "/bin/long";
    args.push_back('\0');
    args += std::string(6000, 'x');
    args.push_back('\0');
    std::uint64_t task = k.add_process({.pid = 9, .comm = "long", .cmdline = args});
    vmi::LinuxLayout layout = layout_of(k);
    vmi::LinuxTaskList list(k.kernel(), layout);
    vmi::LinuxTask read = list.read_task(task);
    std::optional<std::string> full = list.command_line(read, 8192);
    REQUIRE(full.has_value());
    CHECK(full->size() == 9 + 1 + 6000);
    std::optional<std::string> cut = list.command_line(read, 4096);
    REQUIRE(cut.has_value());
    CHECK(cut->size() == 4096 + 3);
    CHECK(cut->ends_with("xxx..."));
}

TEST_CASE("module list: every field with core_layout sizes; a module without a name is marked")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[1]);
    k.add_module("loop", 0x6000, 0x1000, 0xffffffffc0001000ULL, 1);
    std::uint64_t bad = k.add_module("fuse", 0x2000, 0, 0xffffffffc0010000ULL, 3);
    k.add_module("dummy", 0x3000, 0, 0xffffffffc0020000ULL, 1, 2);
    k.put_bytes(bad + k.key("linux_module_name"), std::string(64, 'A'));
    vmi::LinuxLayout layout = layout_of(k);
    vmi::ModuleListing listing = vmi::LinuxModuleList(k.kernel(), layout).list(k.modules_head());
    REQUIRE(listing.modules.size() == 3);
    CHECK(listing.modules[0].name == "loop");
    CHECK(listing.modules[0].size == 0x7000u);
    CHECK(listing.modules[0].refcount == 0);
    CHECK(listing.modules[0].base == 0xffffffffc0001000ULL);
    CHECK(listing.modules[0].state == "Live");
    CHECK(listing.modules[1].bad("name"));
    CHECK(listing.modules[1].refcount == 2);
    CHECK(listing.modules[2].state == "Unloading");
    REQUIRE(listing.problems.size() == 1);
    CHECK(listing.problems[0].message.find("unterminated name") != std::string::npos);
    CHECK(listing.problems[0].kind == vmi::WalkProblem::Kind::field_unreadable);
    CHECK(listing.problems[0].field == "name");
    CHECK(listing.problems[0].object == listing.modules[1].address);
}

TEST_CASE("module list on a 6.4 layout without BTF: sizes are unavailable, not zero")
{
    SyntheticLinux k(vmi_test::kernel_shapes()[2]);
    k.add_module("loop", 0, 0, 0xffffffffc0001000ULL);
    vmi::LinuxLayout layout = layout_of(k);
    vmi::LinuxModuleList list(k.kernel(), layout);
    vmi::ModuleListing listing = list.list(k.modules_head());
    REQUIRE(listing.modules.size() == 1);
    CHECK_FALSE(listing.modules[0].size.has_value());
    CHECK(layout.module_size_offsets().empty()); // vmi-lsmod's size column is shown as '-'
}
