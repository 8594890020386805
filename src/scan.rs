//! Virus scanning with a ClamAV daemon, on the same bytes as they stream
//! through: `zINSTREAM`, then each chunk behind its 4-byte big-endian
//! length, then a zero length, then one reply ended by NUL.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::failure::Failure;
use crate::failure::Rejection;
use crate::pipeline::{Sink, SoFar};

/// Where clamd listens: a unix socket path, or `tcp://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    Unix(PathBuf),
    Tcp(String),
}

impl FromStr for ClamdAddr {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.strip_prefix("tcp://") {
            Some(hostport) if hostport.rsplit_once(':').is_some() => {
                Ok(ClamdAddr::Tcp(hostport.to_owned()))
            }
            Some(_) => Err(anyhow!("{text:?}: expected tcp://HOST:PORT")),
            None if text.is_empty() => Err(anyhow!("empty clamd address")),
            None => Ok(ClamdAddr::Unix(PathBuf::from(text))),
        }
    }
}

impl fmt::Display for ClamdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdAddr::Unix(path) => write!(f, "{}", path.display()),
            ClamdAddr::Tcp(hostport) => write!(f, "tcp://{hostport}"),
        }
    }
}

trait Stream: Read + Write + AsFd {}
impl<T: Read + Write + AsFd> Stream for T {}

/// What clamd said of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Infected(String),
}

/// Streams every chunk to clamd and, at the end, turns its reply into a
/// verdict: infected is a rejection; no answer, a timeout or an error is a
/// scan failure (whether that fails the input is admission's to decide).
pub struct ClamdScan {
    addr: ClamdAddr,
    stream: Box<dyn Stream>,
    /// clamd closed the connection while we sent (it does so past its
    /// StreamMaxLength): stop sending, its reply says why.
    closed_early: bool,
    timeout: Duration,
}

impl ClamdScan {
    /// Connects and starts an INSTREAM session; every wait is bounded by
    /// `timeout`, so a dead or stuck clamd cannot hang the run.
    pub fn connect(addr: &ClamdAddr, timeout: Duration) -> Result<Self> {
        let mut stream: Box<dyn Stream> = match addr {
            ClamdAddr::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                Box::new(s)
            }
            ClamdAddr::Tcp(hostport) => {
                let sockaddr = hostport
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| anyhow!("{hostport} resolves to no address"))?;
                let s = TcpStream::connect_timeout(&sockaddr, timeout)?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                s.set_nodelay(true)?;
                Box::new(s)
            }
        };
        stream.write_all(b"zINSTREAM\0")?;
        Ok(ClamdScan {
            addr: addr.clone(),
            stream,
            closed_early: false,
            timeout,
        })
    }

    fn send(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.closed_early {
            return Ok(());
        }
        let len = u32::try_from(chunk.len()).map_err(io::Error::other)?;
        let sent = self
            .stream
            .write_all(&len.to_be_bytes())
            .and_then(|()| self.stream.write_all(chunk));
        match sent {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                self.closed_early = true;
                Ok(())
            }
            other => other,
        }
    }

    /// Whether clamd has said something (or hung up) already, before the
    /// stream's end was sent: it cannot have scanned what it did not get.
    fn answered_early(&self) -> bool {
        use rustix::net::RecvFlags;
        let mut byte = [0u8; 1];
        let peeked = rustix::net::recv(
            self.stream.as_fd(),
            &mut byte,
            RecvFlags::PEEK | RecvFlags::DONTWAIT,
        );
        !matches!(peeked, Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR)
    }

    /// Reads clamd's reply, up to its NUL (or the connection's end), within
    /// the timeout as a whole: a reply dripped a byte at a time cannot
    /// stretch the wait.
    fn reply(&mut self) -> io::Result<String> {
        let deadline = Instant::now() + self.timeout;
        let mut reply = Vec::new();
        let mut byte = [0u8; 256];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            rustix::net::sockopt::set_socket_timeout(
                self.stream.as_fd(),
                rustix::net::sockopt::Timeout::Recv,
                Some(left),
            )?;
            let n = match self.stream.read(&mut byte) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&byte[..n]);
            if reply.contains(&0) || reply.len() > 4096 {
                break;
            }
        }
        let end = reply.iter().position(|&b| b == 0).unwrap_or(reply.len());
        Ok(String::from_utf8_lossy(&reply[..end]).trim().to_owned())
    }

    /// A scan that cannot finish.
    fn scan_failure(&self, what: impl fmt::Display) -> Result<(), Failure> {
        let message = format!("virus scan by clamd at {} failed: {what}", self.addr);
        Err(Failure::Scan(anyhow!(message)))
    }

    /// An I/O error talking to clamd; a timeout is said as such.
    fn io_failure(&self, e: io::Error) -> Result<(), Failure> {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                let secs = self.timeout.as_secs_f64();
                self.scan_failure(format_args!("no answer within {secs} s (--scan-timeout)"))
            }
            _ => self.scan_failure(e),
        }
    }
}

/// Parses a reply to INSTREAM.
pub fn parse_reply(reply: &str) -> Result<Verdict, String> {
    let body = reply.strip_prefix("stream: ").unwrap_or(reply);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(signature) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(signature.to_owned()))
    } else if reply.is_empty() {
        Err("no reply".to_owned())
    } else {
        Err(reply.to_owned())
    }
}

impl Sink for ClamdScan {
    fn take(&mut self, chunk: &[u8], _so_far: &SoFar) -> Result<(), Failure> {
        match self.send(chunk) {
            Ok(()) => Ok(()),
            Err(e) => self.io_failure(e),
        }
    }

    fn finish(&mut self, _so_far: &SoFar) -> Result<(), Failure> {
        // A verdict counts only once clamd has taken the whole stream.
        let early = self.closed_early || self.answered_early();
        if !self.closed_early
            && let Err(e) = self.send(&[])
        {
            return self.io_failure(e);
        }
        let reply = match self.reply() {
            Ok(reply) => reply,
            Err(_) if early => {
                return self.scan_failure("it hung up before the whole stream was sent");
            }
            Err(e) => return self.io_failure(e),
        };
        let verdict = parse_reply(&reply);
        if early && !matches!(verdict, Ok(Verdict::Infected(_))) {
            let reply = crate::stderr::escape(&reply).into_owned();
            return self.scan_failure(format_args!(
                "it answered {reply:?} before the whole stream was sent"
            ));
        }
        match verdict {
            Ok(Verdict::Infected(signature)) => {
                Err(Failure::Rejected(Rejection::Infected { signature }))
            }
            Ok(Verdict::Clean) => Ok(()),
            Err(error) => self.scan_failure(error),
        }
    }
}

/// Connects, with the address named in the error.
pub fn connect(addr: &ClamdAddr, timeout: Duration) -> Result<ClamdScan> {
    ClamdScan::connect(addr, timeout).with_context(|| format!("cannot reach clamd at {addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_reply("stream: OK"), Ok(Verdict::Clean));
        assert_eq!(
            parse_reply("stream: Test.EICAR.UNOFFICIAL FOUND"),
            Ok(Verdict::Infected("Test.EICAR.UNOFFICIAL".into()))
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(parse_reply("").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            "tcp://127.0.0.1:3310".parse::<ClamdAddr>().unwrap(),
            ClamdAddr::Tcp("127.0.0.1:3310".into())
        );
        assert_eq!(
            "/run/clamd.sock".parse::<ClamdAddr>().unwrap(),
            ClamdAddr::Unix("/run/clamd.sock".into())
        );
        assert!("tcp://nohost".parse::<ClamdAddr>().is_err());
    }
}
