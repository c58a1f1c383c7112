//! Classic BPF socket filters (`SO_ATTACH_FILTER`): a program the kernel runs on every datagram before it is
//! queued to the socket, so a datagram it drops costs no wake-up and no read.
//!
//! On a UDP socket the program sees the datagram from its UDP header on: offset 0 is the source port, offset 8
//! the first byte of the payload. A load past the end of the datagram makes the kernel drop it, so every
//! program here checks the length first and accepts what is too short to judge.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;

/// Bytes of the UDP header in front of the payload, as the program sees a datagram.
const UDP_HEADER: u32 = 8;

/// One instruction of a classic BPF program.
pub type Insn = libc::sock_filter;

const fn stmt(code: u32, k: u32) -> Insn {
    Insn { code: code as u16, jt: 0, jf: 0, k }
}

const fn jump(code: u32, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code: code as u16, jt, jf, k }
}

const LD_LEN: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_LEN;
const LD_W: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const LD_B: u32 = libc::BPF_LD | libc::BPF_B | libc::BPF_ABS;
const JGE: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const RET: u32 = libc::BPF_RET | libc::BPF_K;

/// The program's verdict that keeps a whole datagram.
pub const ACCEPT: u32 = u32::MAX;

/// A program that drops the UDP datagrams whose payload starts with `magic` (4 bytes, big-endian), has the
/// byte `kind` at payload offset `kind_at`, and the 4 bytes `session` (big-endian) at payload offset
/// `session_at`, and accepts everything else.
pub fn drop_session(magic: u32, kind_at: u32, kind: u8, session_at: u32, session: u32) -> [Insn; 10] {
    let need = UDP_HEADER + session_at.max(kind_at) + 4;
    [
        stmt(LD_LEN, 0),
        jump(JGE, need, 0, 7),
        stmt(LD_W, UDP_HEADER),
        jump(JEQ, magic, 0, 5),
        stmt(LD_B, UDP_HEADER + kind_at),
        jump(JEQ, u32::from(kind), 0, 3),
        stmt(LD_W, UDP_HEADER + session_at),
        jump(JEQ, session, 0, 1),
        stmt(RET, 0),
        stmt(RET, ACCEPT),
    ]
}

/// Attaches `program` to the socket `fd` (`SO_ATTACH_FILTER`), replacing any program attached before.
pub fn attach(fd: BorrowedFd<'_>, program: &[Insn]) -> io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
    // SAFETY: `prog` points to `len` initialised instructions that outlive the call; the kernel copies the
    // program during the call and only reads it. The option length is exactly that of `sock_fprog`.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    cvt(ret).map(drop)
}

/// Runs `program` over `packet` (the UDP header then the payload) as the kernel does, for the programs of this
/// module: loads, jumps and returns with constants. A load past the end drops the packet, as in the kernel.
#[cfg(test)]
pub fn run(program: &[Insn], packet: &[u8]) -> u32 {
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    while let Some(i) = program.get(pc) {
        let code = u32::from(i.code);
        let k = i.k as usize;
        pc += 1;
        match code {
            LD_LEN => acc = packet.len() as u32,
            LD_W => match packet.get(k..k.saturating_add(4)) {
                Some(&[a, b, c, d]) => acc = u32::from_be_bytes([a, b, c, d]),
                _ => return 0,
            },
            LD_B => match packet.get(k) {
                Some(b) => acc = u32::from(*b),
                None => return 0,
            },
            JGE | JEQ => {
                let yes = if code == JGE { acc >= i.k } else { acc == i.k };
                pc += usize::from(if yes { i.jt } else { i.jf });
            }
            RET => return i.k,
            _ => return 0,
        }
    }
    0
}
