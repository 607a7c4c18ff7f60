# Volatile parts of fsck.pmcfs output: checksums and other long hex values.
s/0x[0-9a-f]\{5,\}/0xHEX/g
