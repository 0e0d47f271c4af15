#!/usr/bin/env bats
# The integrity sweeps (integrity.bats, faultsweep.py) on the other file
# systems mail spools live on: xfs and btrfs, each a loop-mounted image,
# and tmpfs.  Each test makes its file system and its teardown unmounts
# it, detaches the loop device and removes the image.  The sweeps are
# reduced (sampled points) so that three file systems cost about what one
# full sweep does; ext4 (the test directory's own file system here) runs
# them in full in integrity.bats.

load lib/helper
load lib/mailspool

MIXED=s,L,s,m,s,L,s,s		# ~2 MB, two large messages

setup() {
	FS_MNT= FS_LOOP= FS_IMG=
}

teardown() {
	if [ -n "$FS_MNT" ] && mountpoint -q "$FS_MNT"; then
		umount "$FS_MNT" || umount -l "$FS_MNT"
	fi
	if [ -n "$FS_LOOP" ]; then
		losetup -d "$FS_LOOP" || :
	fi
	if [ -n "$FS_IMG" ]; then
		rm -f "$FS_IMG"
	fi
}

# fs_mount TYPE - a fresh TYPE file system at $FS_MNT, used by the sweeps
# (INTEG_WORK); skips with the reason when this kernel or host lacks it.
fs_mount() {
	local type=$1
	grep -qw "$type" /proc/filesystems ||
	    modprobe "$type" 2>/dev/null || :
	grep -qw "$type" /proc/filesystems ||
	    skip "this kernel has no $type (not in /proc/filesystems, no module)"
	FS_MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$FS_MNT"
	if [ "$type" = tmpfs ]; then
		mount -t tmpfs -o size=128m,mode=755 tmpfs "$FS_MNT"
	else
		command -v "mkfs.$type" >/dev/null ||
		    skip "no mkfs.$type (tests/run installs it)"
		FS_IMG=$BATS_TEST_TMPDIR/$type.img
		# xfs wants 300 MB at least; the image is sparse
		truncate -s 320M "$FS_IMG"
		"mkfs.$type" -q "$FS_IMG"
		FS_LOOP=$(losetup -f --show "$FS_IMG") ||
		    skip "no free loop device"
		mount -t "$type" "$FS_LOOP" "$FS_MNT"
	fi
	chmod 755 "$FS_MNT"
	[ "$(stat -f -c %T "$FS_MNT")" = "$type" ]
	INTEG_WORK=$FS_MNT
}

# the reduced sweeps: kill at every point of a moving update and of the
# truncate-only one; at sampled points with a delivery after the crash,
# with ENOSPC, and inside the recovery
fs_sweeps() {
	local rc=0
	integ_sweep kill-ends --spec $MIXED --dele 1,4,8 --mode kill || rc=1
	integ_sweep kill-last --spec $MIXED --dele 8 --mode kill || rc=1
	integ_sweep kill-deliver --spec s,m,L,s --dele 1,3 --mode kill \
	    --deliver --max-points 30 || rc=1
	integ_sweep enospc-ends --spec s,m,L,s --dele 1,3 --mode ENOSPC \
	    --max-points 20 || rc=1
	# fsync #3 after QUIT: the directory fsync after the journal's rename
	integ_sweep rec-committed --spec $MIXED --dele 1,4,8 --phase recover \
	    --crash fsync:3 --deliver --mode kill --max-points 30 || rc=1
	return $rc
}

@test "integrity sweeps on xfs (loop-mounted image)" {
	fs_mount xfs
	fs_sweeps
}

@test "integrity sweeps on btrfs (loop-mounted image)" {
	fs_mount btrfs
	fs_sweeps
}

@test "integrity sweeps on tmpfs" {
	fs_mount tmpfs
	fs_sweeps
}
