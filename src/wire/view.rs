//! The parts of a packet view that several formats share, written once as macros that expand inside each view's
//! own `impl` blocks. Each format keeps its own `Packet` type, `mod field` offsets and `check_len`; the macros
//! only name them, so a view stays a plain smoltcp-style struct with no generic layout behind it.

/// `new_unchecked`, `new_checked` (which runs the view's own `check_len`) and `into_inner`, for a
/// `Packet<T: AsRef<[u8]>>` with one field, `buffer`. `$checked` documents `new_checked`: what it proves.
macro_rules! view_constructors {
    ($checked:literal) => {
        /// A view without checks; fields past the end of the buffer read as zero.
        pub fn new_unchecked(buffer: T) -> Self {
            Packet { buffer }
        }

        #[doc = $checked]
        pub fn new_checked(buffer: T) -> Result<Self> {
            let packet = Self::new_unchecked(buffer);
            packet.check_len()?;
            Ok(packet)
        }

        /// Consumes the view, returning the buffer.
        pub fn into_inner(self) -> T {
            self.buffer
        }
    };
}

/// The readers IGMP and MLD share: the whole-message length, Type and Checksum, and the fields of the
/// source-listing query (IGMPv3, MLDv2) and of the record-carrying report (IGMPv3, MLDv2), which have one layout
/// in both but for where the query's tail starts and the address size. `$addr` is the address type; `$query` and
/// `$report` name the message in the docs ("v3 query"). It also reads the whole query into the module's `Query` and
/// the report's records, for `Repr::parse`. The module must have `mod field` with `TYPE`, `CHECKSUM`,
/// `S_QRV`, `QQIC`, `NUM_SOURCES`, `SOURCES`, `NUM_RECORDS` and `RECORDS`.
macro_rules! membership_readers {
    (addr: $addr:ty, query: $query:literal, report: $report:literal) => {
        /// The message length (the whole buffer).
        pub fn len(&self) -> usize {
            self.buffer.as_ref().len()
        }

        /// Whether the buffer is empty.
        pub fn is_empty(&self) -> bool {
            self.buffer.as_ref().is_empty()
        }

        /// The Type field.
        pub fn msg_type(&self) -> u8 {
            u8_at(self.buffer.as_ref(), field::TYPE)
        }

        /// The Checksum field.
        pub fn checksum(&self) -> u16 {
            u16_at(self.buffer.as_ref(), field::CHECKSUM)
        }

        #[doc = concat!($query, ": the S flag (Suppress Router-Side Processing).")]
        pub fn s_flag(&self) -> bool {
            u8_at(self.buffer.as_ref(), field::S_QRV) & 0x08 != 0
        }

        #[doc = concat!($query, ": the QRV field (Querier's Robustness Variable).")]
        pub fn qrv(&self) -> u8 {
            u8_at(self.buffer.as_ref(), field::S_QRV) & 0x07
        }

        #[doc = concat!($query, ": the QQIC field (Querier's Query Interval Code).")]
        pub fn qqic(&self) -> u8 {
            u8_at(self.buffer.as_ref(), field::QQIC)
        }

        #[doc = concat!($query, ": the Number of Sources field.")]
        pub fn num_sources(&self) -> u16 {
            u16_at(self.buffer.as_ref(), field::NUM_SOURCES)
        }

        #[doc = concat!($query, ": the sources (on an unchecked view, only those inside the buffer).")]
        pub fn sources(&self) -> impl Iterator<Item = $addr> + '_ {
            sources_at(self.buffer.as_ref(), field::SOURCES, self.num_sources())
        }

        #[doc = concat!($report, ": the Number of Records field.")]
        pub fn num_records(&self) -> u16 {
            u16_at(self.buffer.as_ref(), field::NUM_RECORDS)
        }

        #[doc = concat!($report, ": the records, one per group.")]
        pub fn records(&self) -> Records<'_, $addr> {
            Records::new(tail(self.buffer.as_ref(), field::RECORDS), self.num_records())
        }

        /// The source-listing query this view holds, its group checked as `Repr::parse` does.
        fn source_query(&self) -> Result<Query> {
            Ok(Query {
                max_resp_code: self.max_resp_code(),
                group: query_group(self.group_addr())?,
                suppress: self.s_flag(),
                qrv: self.qrv(),
                qqic: self.qqic(),
                sources: self.sources().collect(),
            })
        }

        /// The records of the report this view holds, parsed.
        fn report_records(&self) -> Result<Vec<GroupRecord<$addr>>> {
            parse_records(tail(self.buffer.as_ref(), field::RECORDS), self.num_records())
        }
    };
}

/// The writers IGMP and MLD share, the counterpart of [`membership_readers`], and the two steps of `Repr::emit`
/// that are the same in both: a query's tail and a report's records. The view must also have its own
/// `set_num_records`, since IGMP's clears reserved bytes that MLD's leaves alone.
macro_rules! membership_writers {
    (addr: $addr:ty, query: $query:literal) => {
        /// Sets the Type field.
        pub fn set_msg_type(&mut self, value: u8) {
            set_u8(self.buffer.as_mut(), field::TYPE, value);
        }

        /// Sets the Checksum field.
        pub fn set_checksum(&mut self, value: u16) {
            set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
        }

        #[doc = concat!($query, ": sets the reserved bits to zero, the S flag and QRV.")]
        pub fn set_s_flag_and_qrv(&mut self, s_flag: bool, qrv: u8) {
            set_u8(self.buffer.as_mut(), field::S_QRV, (u8::from(s_flag) << 3) | (qrv & 0x07));
        }

        #[doc = concat!($query, ": sets the QQIC field.")]
        pub fn set_qqic(&mut self, value: u8) {
            set_u8(self.buffer.as_mut(), field::QQIC, value);
        }

        #[doc = concat!($query, ": sets the Number of Sources field.")]
        pub fn set_num_sources(&mut self, value: u16) {
            set_u16(self.buffer.as_mut(), field::NUM_SOURCES, value);
        }

        #[doc = concat!($query, ": sets source `index` (counted from 0).")]
        pub fn set_source(&mut self, index: usize, addr: $addr) {
            addr.write(self.buffer.as_mut(), field::SOURCES + <$addr as WireAddr>::LEN * index);
        }

        /// Writes a query's S flag, QRV, QQIC and sources, once they are known to fit their fields; on an error
        /// nothing is written.
        fn emit_query_tail(&mut self, suppress: bool, qrv: u8, qqic: u8, sources: &[$addr]) -> Result<()> {
            if qrv > 7 {
                return Err(Error::Unencodable("a QRV above 7"));
            }
            let count = u16::try_from(sources.len()).map_err(|_| Error::Unencodable("more than 65535 sources"))?;
            self.set_s_flag_and_qrv(suppress, qrv);
            self.set_qqic(qqic);
            self.set_num_sources(count);
            for (i, source) in sources.iter().enumerate() {
                self.set_source(i, *source);
            }
            Ok(())
        }

        /// Writes a report of type `msg_type`: its record count and its records after the header.
        fn emit_report(&mut self, msg_type: u8, records: &[GroupRecord<$addr>]) -> Result<()> {
            let count = u16::try_from(records.len()).map_err(|_| Error::Unencodable("more than 65535 records"))?;
            self.set_msg_type(msg_type);
            self.set_num_records(count);
            let rest = self.buffer.as_mut().get_mut(field::RECORDS..).unwrap_or(&mut []);
            emit_records(records, rest).map(drop)
        }
    };
}
