//! Embeds every file under `web/` into the binary: its bytes, a gzip copy (served when the
//! browser accepts it) and a content hash (its ETag). The hash of all files together is the
//! build's asset version: `index.html` refers to `/assets/__V__/...`, rewritten here to that
//! version, so a new deploy changes every asset URL and old ones can be cached forever.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

fn main() {
    let web = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("web");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut paths = Vec::new();
    files(&web, &mut paths);
    let mut all = Sha256::new();
    let mut contents = Vec::new();
    for p in &paths {
        println!("cargo:rerun-if-changed={}", p.display());
        let rel = p.strip_prefix(&web).expect("under web/").to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(p).expect("readable asset");
        all.update(rel.as_bytes());
        all.update(&bytes);
        contents.push((rel, bytes));
    }
    let version = hex::encode(&all.finalize()[..6]);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let mut code = String::new();
    writeln!(code, "pub const VERSION: &str = {version:?};").ok();
    writeln!(code, "pub static ASSETS: &[Asset] = &[").ok();
    for (i, (rel, mut bytes)) in contents.into_iter().enumerate() {
        if rel == "index.html" {
            bytes = String::from_utf8_lossy(&bytes).replace("__V__", &version).into_bytes();
        }
        let etag = hex::encode(&Sha256::digest(&bytes)[..8]);
        let gz = gzip(&bytes);
        let raw_name = format!("asset{i}.raw");
        let gz_name = format!("asset{i}.gz");
        std::fs::write(out.join(&raw_name), &bytes).expect("write OUT_DIR");
        std::fs::write(out.join(&gz_name), &gz).expect("write OUT_DIR");
        writeln!(
            code,
            "    Asset {{ path: {rel:?}, body: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{raw_name}\")), gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{gz_name}\")), etag: \"\\\"{etag}\\\"\" }},"
        )
        .ok();
    }
    writeln!(code, "];").ok();
    std::fs::write(out.join("assets.rs"), code).expect("write OUT_DIR");
}
