#!/bin/sh
# /init of initrd-virtio.cpio.gz: loads the modules, then runs the test that the kernel
# parameter orrery_test= names (Linux passes unknown name=value parameters to init as
# environment variables). Every result line starts with ORRERY- for the host-side checks.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do
  insmod "/lib/modules/$m.ko" || echo "ORRERY-INSMOD-FAILED: $m"
done </lib/modules/order
case "$orrery_test" in
blk)
  # PCI functions (vendor:device) and how many interrupts are PCI MSIs.
  echo "ORRERY-PCI: $(for d in /sys/bus/pci/devices/*; do [ -e "$d/vendor" ] && echo "$(cat "$d/vendor"):$(cat "$d/device")"; done | tr '\n' ' ')"
  echo "ORRERY-RNG: $(cat /sys/class/misc/hw_random/rng_current)"
  echo "ORRERY-RNG-BYTES: $(head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
  mount -t ext4 /dev/vda /mnt || echo "ORRERY-FAIL: mount"
  echo "ORRERY-READ: $(cat /mnt/hello.txt)"
  echo "written by the guest" >/mnt/out.txt
  dd if=/dev/urandom of=/mnt/big.bin bs=64k count=64 2>/dev/null
  echo "ORRERY-MD5: $(md5sum /mnt/big.bin | cut -d' ' -f1)"
  umount /mnt || echo "ORRERY-FAIL: umount"
  grep virtio /proc/interrupts | sed 's/^/ORRERY-IRQ: /'
  echo "ORRERY-MSI: $(grep virtio /proc/interrupts | grep -c MSI)"
  echo ORRERY-DONE
  ;;
blk_kill)
  mount -t ext4 /dev/vda /mnt || echo "ORRERY-FAIL: mount"
  echo ORRERY-WRITING
  i=0
  while :; do
    dd if=/dev/urandom of=/mnt/f$((i % 8)) bs=64k count=16 conv=fsync 2>/dev/null
    i=$((i + 1))
  done
  ;;
*)
  echo "ORRERY-FAIL: unknown orrery_test '$orrery_test'"
  ;;
esac
poweroff -f
