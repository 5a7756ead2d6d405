//! Reading input files (bodies, targets, reports, interval logs) with a size cap that does not
//! trust the file's metadata: a device such as `/dev/zero` or a pipe reports a length of 0 and
//! may never end, so the cap is applied to the bytes actually read.

use std::io::{self, Read};
use std::path::Path;

/// Reads `path` whole, failing with [`io::ErrorKind::FileTooLarge`] once more than `max` bytes
/// arrive. With `text`, a NUL byte (never in the project's text formats, and the first byte of
/// `/dev/zero`) fails at once with [`io::ErrorKind::InvalidData`] instead of after `max`.
pub fn read_capped(path: &Path, max: u64, text: bool) -> io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?.take(max + 1);
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if text && chunk[..n].contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "it holds NUL bytes: not a text file",
            ));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_cap_and_refuses_more_or_nul_bytes() {
        let dir = std::env::temp_dir().join(format!("loadgen-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("f");
        std::fs::write(&file, "abcd").expect("write");
        assert_eq!(read_capped(&file, 4, true).expect("at the cap"), b"abcd");
        let err = read_capped(&file, 3, true).expect_err("over the cap");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("larger than 3 bytes"), "{err}");
        std::fs::write(&file, b"ab\0cd").expect("write");
        assert_eq!(read_capped(&file, 100, false).expect("binary").len(), 5);
        let err = read_capped(&file, 100, true).expect_err("NUL in text");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Devices that never end: refused after the cap (binary) or at the first byte (text).
        let err = read_capped(Path::new("/dev/zero"), 1 << 20, false).expect_err("endless");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        let err = read_capped(Path::new("/dev/zero"), u64::MAX - 1, true).expect_err("endless");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_capped(&dir.join("missing"), 10, true).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).ok();
    }
}
