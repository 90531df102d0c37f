#pragma once
// The pause guardian: a small process that outlives this one and resumes the
// guest if this process dies while its pause is in force, however it dies,
// SIGKILL and the OOM killer included, which no signal handler sees.
//
// It is forked before the pause, in a session of its own (a kill of the
// tool's process group or a Ctrl-C at its terminal does not reach it), with
// the tool's terminal signals ignored. The tool goes on only once the child
// says it has left the tool's process group: a kill of the group right at
// the pause once took a guardian that had not run yet along with the tool. It waits on a pipe whose only writer
// is this process: "P" when the pause request goes out, "R" when the guest
// runs again or this process is done with the pause. When the pipe closes
// while the last word was "P" (this process died), it resumes the guest by
// the source's async-signal-safe path (MemorySource::resume_signal_safe: the QMP socket
// it inherited, `virsh resume`, `xl unpause`), records that in the pause
// lock, says so on stderr and exits. It holds the pause lock's descriptor
// meanwhile, so no other tool pauses the guest before it is resumed.
//
// systemd's kill of a unit's whole control group kills the guardian too:
// the shipped units cover that with an ExecStopPost (see PauseLock).
#include <sys/types.h>

#include "vmi/memory/PauseWitness.hpp"

namespace vmi {

class MemorySource;
class PauseLock;

class PauseGuardian final : public PauseWitness {
public:
    // Forks the guardian; `lock` may be null (a source with no guest key).
    // Throws vmi::Error when the pipe or the process cannot be made.
    PauseGuardian(MemorySource& memory, const PauseLock* lock);
    // Closes the pipe and waits for the guardian to end (at once after a
    // resume or stand_down(); else after it resumed the guest).
    ~PauseGuardian();
    PauseGuardian(const PauseGuardian&) = delete;
    PauseGuardian& operator=(const PauseGuardian&) = delete;

    void pause_requested() noexcept override;
    void pause_over() noexcept override;
    // This process got to the end of its pause: it resumed the guest, or
    // failed to and says so with the command that resumes it by hand. The
    // guardian ends without a word (the lock keeps "paused" after a failed
    // resume, so the next run resumes the guest).
    void stand_down() noexcept { tell('R'); }

private:
    void tell(char word) const noexcept;

    const PauseLock* lock_;
    int pipe_ = -1; // the write end
    pid_t pid_ = -1;
};

} // namespace vmi
