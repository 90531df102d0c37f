#pragma once
// A tiny 64-bit Linux guest for fuzz_linux_lists: its System.map, a config
// entry with its structure offsets, and where things sit in its 52 KiB of
// RAM. fuzz-seeds lays the RAM out (page tables, banner, a task list with a
// thread, a kernel thread and a workqueue worker, a module list with a user);
// the fuzzer then mutates that RAM.
#include <cstdint>
#include <string_view>

namespace vmi_fuzz::mini_linux {

// Guest-physical layout.
constexpr std::uint64_t RAM_SIZE = 0xd000;
constexpr std::uint64_t KERNEL_PGD = 0x1000;  // init_top_pgt; tables from 0x2000 to 0x4fff
constexpr std::uint64_t BANNER = 0x5000;      // linux_banner
constexpr std::uint64_t MODULES = 0x5080;     // the `modules` list head
constexpr std::uint64_t INIT_TASK = 0x5100;   // init_task
constexpr std::uint64_t PROCESS_PGD = 0x8000; // a process's tables, 0x8000 to 0xbfff
constexpr std::uint64_t ARGS = 0xc000;        // its command line, at user address USER_ARGS
constexpr std::uint64_t USER_ARGS = 0x400000;

// Virtual addresses: the kernel image maps physical 0 at KERNEL_TEXT (one
// 2 MiB page), the direct map at DIRECT_MAP (one 1 GiB page).
constexpr std::uint64_t KERNEL_TEXT = 0xffffffff81000000ULL;
constexpr std::uint64_t DIRECT_MAP = 0xffff888000000000ULL;

constexpr std::string_view SYSTEM_MAP = "ffffffff81000000 T _text\n"
                                        "ffffffff81001000 D init_top_pgt\n"
                                        "ffffffff81005000 D linux_banner\n"
                                        "ffffffff81005080 D modules\n"
                                        "ffffffff81005100 D init_task\n";

// Structure offsets, as the config keys of the Linux layer name them.
namespace task {
constexpr std::uint64_t SIZE = 0x100, STATE = 0x00, FLAGS = 0x04, EXIT_STATE = 0x08, TASKS = 0x10, PID = 0x20,
                        TGID = 0x24, PARENT = 0x28, THREAD_GROUP = 0x30, MM = 0x40, CRED = 0x48, COMM = 0x50,
                        KTHREAD = 0x60;
}
namespace mm {
constexpr std::uint64_t PGD = 0x00, ARG_START = 0x08, ARG_END = 0x10;
}
namespace cred {
constexpr std::uint64_t UID = 0x04, GID = 0x08;
}
namespace kthread {
constexpr std::uint64_t DATA = 0x08, FULL_NAME = 0x10;
}
namespace worker {
constexpr std::uint64_t POOL = 0x00, CURRENT_WORK = 0x08, DESC = 0x10;
}
namespace module {
constexpr std::uint64_t SIZE = 0x80, STATE = 0x00, LIST = 0x08, NAME = 0x18, REFCNT = 0x50, CORE_BASE = 0x58,
                        CORE_SIZE = 0x60, INIT_SIZE = 0x64, SOURCE_LIST = 0x68;
}
namespace module_use {
constexpr std::uint64_t SOURCE_LIST = 0x00, SOURCE = 0x20;
}

constexpr std::string_view CONFIG = R"(fuzz {
    ostype = "Linux";
    pagemode = "ia32e";
    kpgd = 0x1000;
    linux_state = 0x00; linux_flags = 0x04; linux_exit_state = 0x08; linux_tasks = 0x10;
    linux_pid = 0x20; linux_tgid = 0x24; linux_parent = 0x28; linux_thread_group = 0x30;
    linux_mm = 0x40; linux_cred = 0x48; linux_name = 0x50; linux_name_len = 16; linux_kthread = 0x60;
    linux_pgd = 0x00; linux_mm_arg_start = 0x08; linux_mm_arg_end = 0x10;
    linux_cred_uid = 0x04; linux_cred_gid = 0x08;
    linux_kthread_data = 0x08; linux_kthread_full_name = 0x10;
    linux_worker_pool = 0x00; linux_worker_current_work = 0x08; linux_worker_desc = 0x10; linux_worker_desc_len = 24;
    linux_module_state = 0x00; linux_module_list = 0x08; linux_module_name = 0x18; linux_module_refcnt = 0x50;
    linux_module_core_base = 0x58; linux_module_core_size = 0x60; linux_module_init_size = 0x64;
    linux_module_source_list = 0x68; linux_module_use_source_list = 0x00; linux_module_use_source = 0x20;
}
)";

} // namespace vmi_fuzz::mini_linux
