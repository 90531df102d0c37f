// fuzz-seeds OUTDIR: writes small valid inputs for every fuzz target,
// OUTDIR/<target>/<name>, made with the unit tests' builders (ELF cores, page
// tables, BTF through libbpf, the real compressors) and from the test guests'
// kallsyms when they are cached. The committed corpora started from these
// (then grew by fuzzing and were minimized with -merge=1); see README.md.
#include <bpf/btf.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "FakeMemory.hpp"
#include "ImageFileBuilder.hpp"
#include "KernelImageBuilder.hpp"
#include "MiniLinux.hpp"
#include "PageTableBuilder.hpp"

using namespace vmi_test;
namespace fs = std::filesystem;

namespace {

fs::path out_dir;

void seed(const std::string& target, const std::string& name, std::string_view bytes)
{
    fs::path dir = out_dir / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

void seed(const std::string& target, const std::string& name, const Bytes& bytes)
{
    seed(target, name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string bytes_of(FakeMemory& memory, std::uint64_t size) { return memory.get_bytes(0, size); }

// ---- config -------------------------------------------------------------

void config_seeds()
{
    seed("config", "paper",
         "# LibVMI's format (paper, Figures 9 and 10)\n"
         "winxpsp2 {\n"
         "    ostype = \"Windows\";\n"
         "    win_tasks = 0x88;\n"
         "    win_pdbase = 0x18;\n"
         "    win_pid = 0x84;\n"
         "}\n"
         "fedora {\n"
         "    sysmap = \"/boot/System.map-2.6.18\";\n"
         "    ostype = \"Linux\";\n"
         "    linux_tasks = 0x108;\n"
         "    linux_mm = 0x120;\n"
         "    linux_pid = 0x154;\n"
         "    linux_name = 0x2a0;\n"
         "    linux_pgd = 0x24;\n"
         "}\n");
    seed("config", "ours",
         "web01 {\n"
         "    ostype = \"Linux\";\n"
         "    sysmap = /srv/vmi/web01/kallsyms;  # a bare word\n"
         "    btf    = \"/srv/vmi/web01/vmlinuz\";\n"
         "    image  = \"/srv/vmi/web01/memory.elf\";\n"
         "    pagemode = la57; kpgd = 0X1a2b000; linux_kaslr = 0xFFFFFFFFFFFFFFFF;\n"
         "}\n"
         "\"live guest\" { qmp = \"/run/qemu/x.qmp\"; access = memfd; backend = qmp; }\n"
         "dom { backend = kvm; uri = \"qemu:///system\"; unknown_key = 1; }\n"
         "web01 { image = \"quote \\\" and backslash \\\\\"; }\n");
    seed("config", "mini-linux", vmi_fuzz::mini_linux::CONFIG);
}

// ---- elf_core -----------------------------------------------------------

void elf_core_seeds()
{
    ElfSpec spec64;
    spec64.segments.push_back({PT_NOTE, 0,
                               elf_note("CORE", 1, std::string(16, 'p')) +
                                   elf_note("QEMU", 0, qemu_cpu_state(0x80050033, 0x1a2b000, 0x6f0))});
    spec64.segments.push_back({PT_LOAD, 0, pattern(256, 0x11)});
    spec64.segments.push_back({PT_LOAD, 0x100, pattern(256, 0x22)}); // adjacent: one range
    spec64.segments.push_back({PT_LOAD, 0x100000000ULL, pattern(128, 0x33)});
    seed("elf_core", "x86_64", build_elf_core(spec64));

    ElfSpec spec32;
    spec32.is64 = false;
    spec32.machine = EM_386;
    spec32.reverse_data = true;
    spec32.segments.push_back({PT_NOTE, 0, elf_note("QEMU", 0, qemu_cpu_state(0x80050033, 0x1a2b000, 0x690))});
    spec32.segments.push_back({PT_LOAD, 0x2000, pattern(200, 0x44)});
    spec32.segments.push_back({PT_LOAD, 0x1000, pattern(100, 0x55)});
    seed("elf_core", "i386", build_elf_core(spec32));

    seed("elf_core", "raw", pattern(4096, 0x66));
}

// ---- symbol_table -------------------------------------------------------

void symbol_table_seeds()
{
    seed("symbol_table", "system-map",
         "0000000000000000 A fixed_percpu_data\n"
         "ffffffff81000000 T _text\n"
         "ffffffff81000000 T startup_64\n"
         "ffffffff81a2b3c4 t do_one_initcall\n"
         "ffffffff82a1aa40 D linux_banner\n"
         "ffffffff82a15940 D init_task\n"
         "ffffffff82c0e5f0 b modules\n");
    seed("symbol_table", "kallsyms-crlf",
         "ffffffffc0a01000 t fuse_dev_open\t[fuse]\r\n"
         "ffffffffc0a02000 T fuse_init\t[fuse]\r\n"
         "ffffffff81000000 T _stext\r\n"
         "ffffffff81a2b3c4 T sys_read\r\n");
    // Slices of real guests' /proc/kallsyms (kernel and module symbols).
    const std::string guests = guest_dir();
    int n = 0;
    for (const char* guest : {"amd64-4level", "i386-pae", "amd64-7.2-kaslr"}) {
        std::ifstream in(guests + "/" + guest + "/kallsyms");
        if (!in) continue;
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(line + "\n");
        if (lines.size() < 200) continue;
        std::string text;
        for (std::size_t i = 0; i < lines.size(); i += lines.size() / 60) text += lines[i];
        for (std::size_t i = lines.size() - 20; i < lines.size(); ++i) text += lines[i]; // module symbols last
        seed("symbol_table", "kallsyms-" + std::to_string(n++), text);
    }
}

// ---- btf ------------------------------------------------------------------

// The structures the Linux layer asks BTF about, small: task_struct with the
// members the tools read, module with mem[] (6.4 and later), kthread, worker.
Bytes kernel_like_btf()
{
    struct btf* btf = btf__new_empty();
    if (!btf) throw std::runtime_error("btf__new_empty failed");
    int uint_id = btf__add_int(btf, "unsigned int", 4, 0);
    int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
    int char_id = btf__add_int(btf, "char", 1, BTF_INT_CHAR);
    int ulong_id = btf__add_int(btf, "long unsigned int", 8, 0);
    int void_ptr = btf__add_ptr(btf, 0);
    int list_ptr = btf__add_ptr(btf, static_cast<int>(btf__type_cnt(btf)) + 1);
    int list_head = btf__add_struct(btf, "list_head", 16);
    btf__add_field(btf, "next", list_ptr, 0, 0);
    btf__add_field(btf, "prev", list_ptr, 64, 0);
    int comm = btf__add_array(btf, uint_id, char_id, 16);
    int name = btf__add_array(btf, uint_id, char_id, 56);

    btf__add_struct(btf, "task_struct", 128);
    btf__add_field(btf, "__state", uint_id, 0, 0);
    btf__add_field(btf, "flags", uint_id, 32, 0);
    btf__add_field(btf, "tasks", list_head, 64, 0);
    btf__add_field(btf, "pid", int_id, 192, 0);
    btf__add_field(btf, "tgid", int_id, 224, 0);
    btf__add_field(btf, "real_parent", void_ptr, 256, 0);
    btf__add_field(btf, "thread_group", list_head, 320, 0);
    btf__add_field(btf, "mm", void_ptr, 448, 0);
    btf__add_field(btf, "cred", void_ptr, 512, 0);
    btf__add_field(btf, "comm", comm, 576, 0);
    btf__add_field(btf, "exit_state", int_id, 704, 0);
    btf__add_field(btf, "worker_private", void_ptr, 768, 0);

    btf__add_struct(btf, "mm_struct", 32);
    btf__add_field(btf, "pgd", void_ptr, 0, 0);
    btf__add_field(btf, "arg_start", ulong_id, 64, 0);
    btf__add_field(btf, "arg_end", ulong_id, 128, 0);

    int module_memory = btf__add_struct(btf, "module_memory", 16);
    btf__add_field(btf, "base", void_ptr, 0, 0);
    btf__add_field(btf, "size", uint_id, 64, 0);
    int mem = btf__add_array(btf, uint_id, module_memory, 7);
    btf__add_struct(btf, "module", 256);
    btf__add_field(btf, "state", uint_id, 0, 0);
    btf__add_field(btf, "list", list_head, 64, 0);
    btf__add_field(btf, "name", name, 192, 0);
    btf__add_field(btf, "mem", mem, 640, 0);
    btf__add_field(btf, "refcnt", int_id, 1536, 0);
    btf__add_field(btf, "source_list", list_head, 1600, 0);

    btf__add_enum(btf, "mod_mem_type", 4);
    btf__add_enum_value(btf, "MOD_TEXT", 0);
    btf__add_enum_value(btf, "MOD_MEM_NUM_TYPES", 7);

    std::uint32_t size = 0;
    auto raw = static_cast<const std::uint8_t*>(btf__raw_data(btf, &size));
    Bytes out(raw, raw + size);
    btf__free(btf);
    return out;
}

void btf_seeds()
{
    seed("btf", "demo.raw", demo_btf());
    seed("btf", "kernel.raw", kernel_like_btf());
    seed("btf", "demo.elf64", elf_with_btf<true>(demo_btf(), filler(64)));
    seed("btf", "kernel.elf32", elf_with_btf<false>(kernel_like_btf(), filler(32)));
}

// ---- decompress -------------------------------------------------------------

// The kernel build's compressor options, but with small dictionaries and
// windows: a decoder allocates what the header asks for, and under ASan a
// 64 MiB lzma dictionary costs 50 ms an input, a hundred times the decoding.
std::optional<Bytes> compress_small(vmi::KernelCompression compression, const Bytes& input, const TempDir& dir)
{
    const char* command = nullptr;
    if (compression == vmi::KernelCompression::lzma) command = "xz --format=lzma --lzma1=preset=9,dict=64KiB";
    if (compression == vmi::KernelCompression::xz) command = "xz --check=crc32 --x86 --lzma2=preset=9,dict=64KiB";
    if (compression == vmi::KernelCompression::zstd) command = "zstd -19 -q --zstd=wlog=16";
    if (!command) return compress(compression, input, dir);
    std::string in = dir.file("plain"), out = dir.file("packed");
    write_bytes(in, input);
    std::string run = std::string(command) + " < '" + in + "' > '" + out + "'";
    if (std::system(run.c_str()) != 0) return std::nullopt;
    return read_bytes(out);
}

void decompress_seeds()
{
    TempDir dir;
    Bytes vmlinux = elf_with_btf<true>(demo_btf(), filler(2048));
    for (std::size_t i = 0; i < std::size(ALL_COMPRESSIONS); ++i) {
        std::optional<Bytes> packed = compress_small(ALL_COMPRESSIONS[i], vmlinux, dir);
        if (!packed) {
            std::cerr << "fuzz-seeds: no " << compressor_command(ALL_COMPRESSIONS[i]) << "; its seeds skipped\n";
            continue;
        }
        std::string name(vmi::compression_name(ALL_COMPRESSIONS[i]));
        // [selector][cap: 1 MiB] one stream, then the whole-image path: bare and in a bzImage.
        Bytes stream{static_cast<std::uint8_t>(i), 10};
        stream.insert(stream.end(), packed->begin(), packed->end());
        seed("decompress", name, stream);
        Bytes appended = with_size_appended(*packed, static_cast<std::uint32_t>(vmlinux.size()));
        Bytes bare{7, 10};
        bare.insert(bare.end(), appended.begin(), appended.end());
        seed("decompress", "image-" + name, bare);
        if (ALL_COMPRESSIONS[i] == vmi::KernelCompression::gzip || ALL_COMPRESSIONS[i] == vmi::KernelCompression::xz) {
            Bytes image = fake_bzimage(appended, 1, 0x40);
            image.resize(image.size() - 4000); // the padding fake_bzimage adds is of no use here
            Bytes bz{7, 10};
            bz.insert(bz.end(), image.begin(), image.end());
            seed("decompress", "bzimage-" + name, bz);
        }
    }
}

// ---- qemu_monitor -----------------------------------------------------------

void qemu_monitor_seeds()
{
    seed("qemu_monitor", "mtree", std::string("\x00", 1) + R"(FlatView #0
 AS "cpu-smm-0", root: memory
 Root memory region: memory
  0000000000000000-00000000000bffff (prio 0, ram): ram0

FlatView #1
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-000000000009ffff (prio 0, ram): ram0
  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
  00000000000c0000-00000000000cafff (prio 0, rom): ram0 @00000000000c0000
  00000000000cb000-00000000000cdfff (prio 0, ram): ram0 @00000000000cb000
  0000000000100000-00000000bfffffff (prio 0, ram): ram0 @0000000000100000
  00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram
  00000000fffc0000-00000000ffffffff (prio -1, rom): pc.bios
  0000000100000000-000000013fffffff (prio 0, ram): ram0 @00000000c0000000 KVM

FlatView #2
 AS "I/O", root: io
  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan
)");
    seed("qemu_monitor", "registers",
         std::string("\x01", 1) +
             "CPU#0\r\n"
             "RAX=000000000001ad40 RBX=0000000000000000 RCX=0000000000000020 RDX=4000000000000000\r\n"
             "ES =0000 0000000000000000 00000000 00000000\r\n"
             "CR0=80050033 CR2=000000003b6b6008 CR3=000000000487c000 CR4=000006f0\r\n"
             "DR6=00000000ffff0ff0 DR7=0000000000000400\r\n"
             "EFER=0000000000000d01\r\n"
             "CPU#1\r\n"
             "CR0=80050033 CR2=0 CR3=0000000001234000 CR4=00000690\r\n");
    seed("qemu_monitor", "gpa2hva",
         std::string("\x02", 1) + "Host virtual address for 0x100000 (ram0) is 0x7f82f40ff000\r\n");
    // Selector 11: xp, 2 units.
    seed("qemu_monitor", "xp", std::string("\x0b", 1) + "0000000000001000: 0x0807060504030201 0x00000000000000ff\r\n");
}

// ---- page_walker --------------------------------------------------------

void page_walker_seed(const std::string& name, vmi::PagingMode mode, bool split, std::vector<std::uint64_t> vas,
                      const std::vector<std::pair<std::uint64_t, std::uint64_t>>& mappings)
{
    constexpr std::uint64_t RAM = 0x8000;
    FakeMemory memory({{0, RAM}});
    PageTableBuilder tables(memory, mode, 0x1000, 0x2000);
    for (auto [va, page_size] : mappings) tables.map(va, page_size == 4096 ? 0x6000 : 0, page_size);
    memory.put_bytes(0x6000, "Linux version 6.1.0 (page walker seed)");
    std::string input;
    append_pod(input, static_cast<std::uint8_t>(static_cast<unsigned>(mode) | (split ? 4 : 0)));
    append_pod(input, std::uint64_t{0x1000});
    append_pod(input, static_cast<std::uint8_t>(vas.size() - 1));
    for (std::uint64_t va : vas) append_pod(input, va);
    input += bytes_of(memory, RAM);
    seed("page_walker", name, input);
}

void page_walker_seeds()
{
    using vmi::PagingMode;
    page_walker_seed("legacy32", PagingMode::Legacy32, false, {0xc0001000, 0xc0400ff8, 0xc0800000, 0x100000000ULL},
                     {{0xc0001000, 4096}, {0xc0400000, 0x400000}});
    page_walker_seed("pae", PagingMode::PAE, false, {0xc0001000, 0xc0200ff8, 0xc0400000},
                     {{0xc0001000, 4096}, {0xc0200000, 0x200000}});
    page_walker_seed(
        "ia32e", PagingMode::IA32e, false,
        {0xffffffff81000000ULL, 0xffffffff81200123ULL, 0xffff888000007ff8ULL, 0x0000800000000000ULL},
        {{0xffffffff81000000ULL, 4096}, {0xffffffff81200000ULL, 0x200000}, {0xffff888000000000ULL, 1ULL << 30}});
    page_walker_seed("ia32e-split", PagingMode::IA32e, true, {0xffffffff81000000ULL, 0xffff888000003ff8ULL},
                     {{0xffffffff81000000ULL, 4096}, {0xffff888000000000ULL, 1ULL << 30}});
    page_walker_seed("la57", PagingMode::LA57, false,
                     {0xffffffff81000000ULL, 0xff11000000000010ULL, 0xff00000000000000ULL},
                     {{0xffffffff81000000ULL, 4096}, {0xff11000000000000ULL, 1ULL << 30}});
}

// ---- linux_lists --------------------------------------------------------

void linux_lists_seed()
{
    namespace m = vmi_fuzz::mini_linux;
    FakeMemory ram({{0, m::RAM_SIZE}});
    PageTableBuilder kernel(ram, vmi::PagingMode::IA32e, m::KERNEL_PGD, m::KERNEL_PGD + 0x1000);
    kernel.map(m::KERNEL_TEXT, 0, 0x200000);
    kernel.map(m::DIRECT_MAP, 0, 1ULL << 30);
    PageTableBuilder process(ram, vmi::PagingMode::IA32e, m::PROCESS_PGD, m::PROCESS_PGD + 0x1000);
    process.map(m::USER_ARGS, m::ARGS, 4096);

    auto text = [&](std::uint64_t pa) { return m::KERNEL_TEXT + pa; }; // the kernel image's own data
    auto heap = [&](std::uint64_t pa) { return m::DIRECT_MAP + pa; };  // allocated objects
    ram.put_bytes(m::BANNER, std::string("Linux version 6.1.0-fuzz (fuzz@vmitools) #1 SMP\n\0", 50));

    // Tasks: init_task (pid 0), init (pid 1) with a second thread, kthreadd, a worker.
    const std::uint64_t init = 0x5200, kthreadd = 0x5300, thread = 0x5400, kworker = 0x5700;
    const std::uint64_t root_cred = 0x5500, user_cred = 0x5540, init_mm = 0x5580;
    const std::uint64_t kthreadd_kthread = 0x5600, kworker_kthread = 0x5780, kworker_worker = 0x5800;
    struct Task {
        std::uint64_t pa, va;
        std::int32_t pid, tgid;
        std::uint32_t state, flags;
        const char* comm;
        std::uint64_t parent, mm, cred, kthread;
    };
    const std::uint64_t init_task_va = text(m::INIT_TASK);
    const Task tasks[] = {
        {m::INIT_TASK, init_task_va, 0, 0, 0, 0x00200000, "swapper/0", init_task_va, 0, heap(root_cred), 0},
        {init, heap(init), 1, 1, 1, 0x00400100, "init", init_task_va, heap(init_mm), heap(user_cred), 0},
        {kthreadd, heap(kthreadd), 2, 2, 1, 0x00208040, "kthreadd", init_task_va, 0, heap(root_cred),
         heap(kthreadd_kthread)},
        {thread, heap(thread), 3, 1, 0x402, 0x00400140, "init", init_task_va, heap(init_mm), heap(user_cred), 0},
        {kworker, heap(kworker), 4, 4, 0x402, 0x04208060, "kworker/0:1", heap(kthreadd), 0, heap(root_cred),
         heap(kworker_kthread)},
    };
    for (const Task& t : tasks) {
        ram.put32(t.pa + m::task::STATE, t.state);
        ram.put32(t.pa + m::task::FLAGS, t.flags);
        ram.put32(t.pa + m::task::PID, static_cast<std::uint32_t>(t.pid));
        ram.put32(t.pa + m::task::TGID, static_cast<std::uint32_t>(t.tgid));
        ram.put64(t.pa + m::task::PARENT, t.parent);
        ram.put64(t.pa + m::task::MM, t.mm);
        ram.put64(t.pa + m::task::CRED, t.cred);
        ram.put64(t.pa + m::task::KTHREAD, t.kthread);
        ram.put_bytes(t.pa + m::task::COMM, t.comm);
        ram.put64(t.pa + m::task::THREAD_GROUP, t.va + m::task::THREAD_GROUP); // alone in its group
    }
    // The task list: init_task -> init -> kthreadd -> kworker -> init_task.
    const Task* order[] = {&tasks[0], &tasks[1], &tasks[2], &tasks[4]};
    for (std::size_t i = 0; i < std::size(order); ++i)
        ram.put64(order[i]->pa + m::task::TASKS, order[(i + 1) % std::size(order)]->va + m::task::TASKS);
    // init's thread group: init <-> thread.
    ram.put64(init + m::task::THREAD_GROUP, heap(thread) + m::task::THREAD_GROUP);
    ram.put64(thread + m::task::THREAD_GROUP, heap(init) + m::task::THREAD_GROUP);

    ram.put32(user_cred + m::cred::UID, 1000);
    ram.put32(user_cred + m::cred::GID, 1000);
    ram.put64(init_mm + m::mm::PGD, heap(m::PROCESS_PGD));
    const std::string args("/sbin/init\0splash\0", 18);
    ram.put_bytes(m::ARGS, args);
    ram.put64(init_mm + m::mm::ARG_START, m::USER_ARGS);
    ram.put64(init_mm + m::mm::ARG_END, m::USER_ARGS + args.size());
    ram.put64(kthreadd_kthread + m::kthread::FULL_NAME, heap(0x5680));
    ram.put_bytes(0x5680, std::string("kthreadd-with-a-long-name\0", 26));
    ram.put64(kworker_kthread + m::kthread::DATA, heap(kworker_worker));
    ram.put64(kworker_worker + m::worker::POOL, heap(0x5900));
    ram.put_bytes(kworker_worker + m::worker::DESC, std::string("events\0", 7));

    // Modules: modules -> fuzzmod -> dummy -> modules; dummy uses fuzzmod.
    const std::uint64_t fuzzmod = 0x6000, dummy = 0x6100, use = 0x6200;
    const std::uint64_t modules_va = text(m::MODULES);
    ram.put64(m::MODULES, heap(fuzzmod) + m::module::LIST);
    ram.put64(fuzzmod + m::module::LIST, heap(dummy) + m::module::LIST);
    ram.put64(dummy + m::module::LIST, modules_va);
    for (auto [pa, name] : {std::pair{fuzzmod, "fuzzmod"}, std::pair{dummy, "dummy"}}) {
        ram.put_bytes(pa + m::module::NAME, std::string(name) + '\0');
        ram.put32(pa + m::module::REFCNT, 2);
        ram.put64(pa + m::module::CORE_BASE, 0xffffffffc0a00000ULL + pa);
        ram.put32(pa + m::module::CORE_SIZE, 0x3000);
        ram.put32(pa + m::module::INIT_SIZE, 0x1000);
        ram.put64(pa + m::module::SOURCE_LIST, heap(pa) + m::module::SOURCE_LIST); // no users
    }
    ram.put64(fuzzmod + m::module::SOURCE_LIST, heap(use) + m::module_use::SOURCE_LIST);
    ram.put64(use + m::module_use::SOURCE_LIST, heap(fuzzmod) + m::module::SOURCE_LIST);
    ram.put64(use + m::module_use::SOURCE, heap(dummy));

    seed("linux_lists", "mini-linux", bytes_of(ram, m::RAM_SIZE));
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::cerr << "usage: fuzz-seeds OUTDIR\n";
        return 2;
    }
    out_dir = argv[1];
    try {
        config_seeds();
        elf_core_seeds();
        symbol_table_seeds();
        btf_seeds();
        decompress_seeds();
        qemu_monitor_seeds();
        page_walker_seeds();
        linux_lists_seed();
    } catch (const std::exception& e) {
        std::cerr << "fuzz-seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
