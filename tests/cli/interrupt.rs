//! Ctrl-C and SIGTERM mid-stream: the temp file goes, nothing is recorded.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use crate::harness::wait_until_drained;
use crate::util::*;

fn interrupt_mid_stream(signal: libc::c_int) {
    let env = Env::new();
    env.write("first.txt", b"first");
    ok(&mut env.cmd(["first.txt"]));
    let manifest_before = env.manifest_bytes();

    let mut child = env
        .cmd(["--name", "video.mp4", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&noise(200_000, 7)).unwrap();
    wait_until_drained(&stdin);
    // The bytes were read, so they sit in a temp file now: the test can fail.
    assert_eq!(env.tmp_entries().len(), 1);

    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(status.signal(), Some(signal), "{status:?}");
    assert!(env.tmp_entries().is_empty(), "left {:?}", env.tmp_entries());
    assert_eq!(env.manifest_bytes(), manifest_before);
    assert_eq!(env.objects().len(), 1);
    env.assert_store_valid();
}

#[test]
fn sigint_mid_stream_removes_the_temp_file() {
    interrupt_mid_stream(libc::SIGINT);
}

#[test]
fn sigterm_mid_stream_removes_the_temp_file() {
    interrupt_mid_stream(libc::SIGTERM);
}
