//! gzip for request bodies with reused deflate state. flate2's `GzEncoder` builds a fresh
//! miniz_oxide compressor per body: about 300 KB of tables allocated and zeroed for every batch,
//! which showed up in the sender's profile as page faults larger than the compression itself.
//! Here compressors are pooled: one is taken for an encode and given back, so the pool holds as
//! many as were ever encoding at once (a handful: an encode takes well under a millisecond),
//! not one per worker.

use std::sync::Mutex;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// RFC 1952 header: deflate, no flags, no mtime, no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

#[derive(Default)]
pub(crate) struct GzipPool {
    idle: Mutex<Vec<Compress>>,
}

impl GzipPool {
    /// `out` = the gzip member of `parts` concatenated, at level 1 (`Compression::fast()`).
    pub(crate) fn encode(&self, parts: &[&[u8]], out: &mut Vec<u8>) {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut deflate = taken.unwrap_or_else(|| Compress::new(Compression::fast(), false));
        deflate.reset();
        let mut crc = Crc::new();
        out.clear();
        out.extend_from_slice(&HEADER);
        for part in parts {
            crc.update(part);
            deflate_into(&mut deflate, part, out, FlushCompress::None);
        }
        deflate_into(&mut deflate, &[], out, FlushCompress::Finish);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&crc.amount().to_le_bytes());
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(deflate);
    }
}

/// Feeds all of `input` (and, with `Finish`, ends the stream), growing `out` as needed.
fn deflate_into(deflate: &mut Compress, mut input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(16 * 1024));
        }
        let (before_in, before_out) = (deflate.total_in(), deflate.total_out());
        let status = deflate.compress_vec(input, out, flush);
        input = &input[(deflate.total_in() - before_in) as usize..];
        let stalled = deflate.total_in() == before_in && deflate.total_out() == before_out;
        match status {
            Ok(Status::StreamEnd) => return,
            Ok(_) if input.is_empty() && flush == FlushCompress::None => return,
            Ok(_) if !stalled => {}
            // Only a bad flush sequence errs, and with 1 KB of room a step always progresses. A
            // truncated body would be refused and bisected as poison, so fail loudly instead: the
            // worker catches the panic and counts its batch as failed, with an error logged.
            other => panic!("gzip: deflate stopped without progress ({other:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::GzipPool;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("a valid gzip member");
        out
    }

    #[test]
    fn round_trips_through_a_standard_decoder_and_reuses_its_compressor() {
        let pool = GzipPool::default();
        let big: Vec<u8> = (0..600_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut out = Vec::new();
        for parts in [&[b"{\"batch\":[".as_slice(), &big[..200_000], b"]}"][..], &[][..], &[b"".as_slice()][..], &[&big[..]][..]] {
            pool.encode(parts, &mut out);
            assert_eq!(gunzip(&out), parts.concat(), "{} parts", parts.len());
        }
        assert_eq!(pool.idle.lock().unwrap().len(), 1, "one encode at a time needs one compressor");
    }
}
