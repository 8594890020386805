//! S3 servers for the tests: SeaweedFS (`weed mini`, from target/s3venv), one
//! per test on free ports, and one small Ceph cluster (RADOS Gateway) for the
//! whole run (`tests/rgw/cluster.sh`), each test under its own prefix.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

pub const BUCKET: &str = "ingest-test";
pub const KEY_ID: &str = "ingesttestkey";
pub const SECRET: &str = "ingesttestsecret0123456789";

fn weed() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/s3venv/bin/weed");
    assert!(
        path.exists(),
        "SeaweedFS is not installed: run .ci/setup (it installs it into target/s3venv)"
    );
    path
}

/// A port that is free, and whose gRPC twin (port + 10000) is free too.
/// Ports for SeaweedFS's five servers: each free with its gRPC port
/// (itself + 10000), and none the gRPC port of another (weed refuses to
/// start then: "reserved for gRPC calculation").
fn weed_ports() -> [u16; 5] {
    loop {
        let ports = [0; 5].map(|_| free_port());
        let clash = ports
            .iter()
            .any(|p| ports.contains(&(p + 10000)) || ports.iter().filter(|q| *q == p).count() > 1);
        if !clash {
            return ports;
        }
    }
}

pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port < 55000 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

/// The S3 servers the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    SeaweedFs,
    CephRgw,
}

/// The shared Ceph cluster: its gateway's port and its ceph.conf; the
/// script that started it stops it once its standard input (held here, in
/// `_script`) closes, when this process ends, however it ends.
struct Cluster {
    port: u16,
    conf: PathBuf,
    _script: Child,
}

static CLUSTER: std::sync::OnceLock<Result<Cluster, String>> = std::sync::OnceLock::new();

fn cluster() -> &'static Cluster {
    let started = CLUSTER.get_or_init(start_cluster);
    match started {
        Ok(cluster) => cluster,
        Err(why) => panic!("{why}"),
    }
}

fn start_cluster() -> Result<Cluster, String> {
    use std::io::BufRead;
    if Command::new("radosgw").arg("--version").output().is_err() {
        return Err("Ceph's radosgw is not installed: run .ci/setup".into());
    }
    let dir = tempfile::Builder::new()
        .prefix("ingest-rgw-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let log = dir.with_extension("log");
    let mut script = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rgw/cluster.sh"))
        .arg(&dir)
        .args([KEY_ID, SECRET, BUCKET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let stdout = script.stdout.take().ok_or("no stdout")?;
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("ready"), Some(port), Some(conf)) => Ok(Cluster {
            // Only wanted when the cluster does not start.
            port: {
                let _ = std::fs::remove_file(&log);
                port.parse().map_err(|_| format!("bad port in {line:?}"))?
            },
            conf: PathBuf::from(conf),
            _script: script,
        }),
        _ => Err(format!(
            "the Ceph cluster did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )),
    }
}

/// A running S3 server with one bucket: a SeaweedFS of its own, or a
/// gateway on the shared Ceph cluster.
pub struct Server {
    engine: Engine,
    /// What this test may kill: `weed mini`, or a gateway of its own.
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// SeaweedFS: S3, master, volume, filer, admin. RGW: the gateway's.
    ports: [u16; 5],
}

impl Server {
    /// A SeaweedFS of this test's own.
    pub fn start() -> Server {
        Server::start_on(Engine::SeaweedFs)
    }

    /// A server of `engine` (for RGW, the shared cluster's gateway).
    pub fn start_on(engine: Engine) -> Server {
        match engine {
            Engine::SeaweedFs => Server::start_seaweedfs(),
            Engine::CephRgw => Server {
                engine,
                child: None,
                dir: tempfile::Builder::new()
                    .prefix("ingest-s3-")
                    .tempdir()
                    .unwrap(),
                ports: [cluster().port, 0, 0, 0, 0],
            },
        }
    }

    /// A server this test may kill and restart: for RGW, a gateway of its
    /// own on the shared cluster.
    pub fn start_own(engine: Engine) -> Server {
        let mut server = Server::start_on(engine);
        if engine == Engine::CephRgw {
            server.ports[0] = free_port();
            server.run();
        }
        server
    }

    /// The port S3 requests go to.
    pub fn s3_port(&self) -> u16 {
        self.ports[0]
    }

    fn start_seaweedfs() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("ingest-s3-")
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"ingest-test","credentials":[{{"accessKey":"{KEY_ID}","secretKey":"{SECRET}"}}],"actions":["Admin","Read","List","Tagging","Write"]}}]}}"#
            ),
        )
        .unwrap();
        let mut server = Server {
            engine: Engine::SeaweedFs,
            child: None,
            ports: weed_ports(),
            dir,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        if self.engine == Engine::CephRgw {
            return self.run_gateway();
        }
        let [s3, master, volume, filer, admin] = self.ports;
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut weed = Command::new(weed());
        weed.arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!(
                "-s3.config={}",
                self.dir.path().join("s3.json").display()
            ))
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-admin.port={admin}"))
            .args([
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ]);
        self.launch(weed);
    }

    /// A gateway of this test's own on the shared cluster.
    fn run_gateway(&mut self) {
        let port = self.ports[0];
        let mut radosgw = Command::new("radosgw");
        radosgw
            .arg("-c")
            .arg(&cluster().conf)
            .args(["-n", &format!("client.rgw.t{port}"), "-f"])
            .arg(format!("--rgw-frontends=beast endpoint=127.0.0.1:{port}"));
        self.launch(radosgw);
    }

    /// Starts the server with its stderr in the log, and waits until it
    /// answers.
    fn launch(&mut self, mut server: Command) {
        let log = std::fs::File::create(self.log_path()).unwrap();
        let child = server.stdout(Stdio::null()).stderr(log).spawn().unwrap();
        self.child = Some(child);
        self.wait_ready();
    }

    fn log_path(&self) -> PathBuf {
        let name = match self.engine {
            Engine::SeaweedFs => "weed.log",
            Engine::CephRgw => "rgw.log",
        };
        self.dir.path().join(name)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// Ready once a signed request gets an answer about the store.
    fn wait_ready(&self) {
        // Generous: the Ceph cluster and a dozen SeaweedFS instances may be
        // starting at once on two cores.
        let deadline = Instant::now() + Duration::from_secs(180);
        while TcpStream::connect(("127.0.0.1", self.ports[0])).is_err() {
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        loop {
            let out = self
                .cmd("s3://ingest-test/ready-probe", ["stats"])
                .output()
                .unwrap();
            if stderr_of(&out).contains("no store here") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS never answered: {}\n{}",
                stderr_of(&out),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server at once (as a crash would): one started with
    /// [`Server::start_own`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    /// `ingest --store URL ARGS` with this server's endpoint and
    /// credentials, and the local cache in the server's temp folder.
    pub fn cmd<I, S>(&self, store: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = bare_cmd();
        cmd.env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .args(["--progress", "never", "--store", store]);
        cmd.args(args);
        cmd
    }

    /// Removes a folder (or a key) of the bucket through the filer, behind
    /// the S3 API's back (as a lost manifest segment would be).
    pub fn remove_folder(&self, path: &str) {
        assert_eq!(self.engine, Engine::SeaweedFs, "the filer is SeaweedFS's");
        let url = format!(
            "http://127.0.0.1:{}/buckets/{BUCKET}/{path}?recursive=true",
            self.ports[3]
        );
        let out = Command::new("curl")
            .args(["-sS", "-f", "-X", "DELETE", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    }

    /// Puts `bytes` under `key` of the bucket with a plain signed request
    /// (curl's SigV4), behind ingest's back.
    pub fn put(&self, key: &str, bytes: &[u8]) {
        let file = self.dir.path().join("put.body");
        std::fs::write(&file, bytes).unwrap();
        let out = Command::new("curl")
            .args(["-sS", "-f", "-X", "PUT", "-T"])
            .arg(&file)
            .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{KEY_ID}:{SECRET}"))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(format!("{}/{BUCKET}/{key}", self.endpoint()))
            .output()
            .unwrap();
        assert!(out.status.success(), "PUT {key}: {}", stderr_of(&out));
    }

    /// The bytes under `key` of the bucket, read with a plain signed request.
    pub fn get(&self, key: &str) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{KEY_ID}:{SECRET}"))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(format!("{}/{BUCKET}/{key}", self.endpoint()))
            .output()
            .unwrap();
        assert!(out.status.success(), "GET {key}: {}", stderr_of(&out));
        out.stdout
    }

    /// The keys of the bucket under `prefix` (one page: at most 1,000),
    /// listed with a plain signed request.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let out = Command::new("curl")
            .args(["-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{KEY_ID}:{SECRET}"))
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(format!(
                "{}/{BUCKET}?list-type=2&max-keys=1000&prefix={}",
                self.endpoint(),
                prefix.replace('/', "%2F")
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "listing {prefix}: {}",
            stderr_of(&out)
        );
        stdout_of(&out)
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    /// The server's temp folder (its data, log and the local cache).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn store_url(name: &str) -> String {
    format!("s3://{BUCKET}/{name}")
}
