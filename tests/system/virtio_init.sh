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
net_up() {
  ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up &&
    ip route add default via 10.0.2.2 || echo "ORRERY-FAIL: eth0 setup"
}
case "$orrery_test" in
blk)
  # PCI functions (vendor:device) and how many interrupts are PCI MSIs.
  echo "ORRERY-PCI: $(for d in /sys/bus/pci/devices/*; do [ -e "$d/vendor" ] && echo "$(cat "$d/vendor"):$(cat "$d/device")"; done | tr '\n' ' ')"
  # Where the BARs went (with PCI, virtio's 64-bit BAR 4 belongs in the 64-bit window).
  sed 's/^/ORRERY-IOMEM: /' /proc/iomem
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
vhost_blk)
  # tests/system/vhost_user_blk.sh: the disk is served by a vhost-user backend.
  echo "ORRERY-QUEUES: $(ls /sys/block/vda/mq | wc -l)"
  mount -t ext4 /dev/vda /mnt || echo "ORRERY-FAIL: mount"
  echo "ORRERY-READ: $(cat /mnt/hello.txt)"
  echo "ORRERY-PREVIOUS: $(cat /mnt/out.txt 2>/dev/null)"
  echo "written by the guest $orrery_run" >/mnt/out.txt
  dd if=/dev/urandom of=/mnt/big.bin bs=64k count=64 2>/dev/null
  echo "ORRERY-MD5: $(md5sum /mnt/big.bin | cut -d' ' -f1)"
  umount /mnt || echo "ORRERY-FAIL: umount"
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
net_http)
  # A static address (udhcpc would need a script): slirp's defaults, 10.0.2.2 is the host.
  net_up
  # Guest-side timing for bench/net.sh: /proc/uptime before and after the download.
  echo "ORRERY-NET-START: $(cut -d' ' -f1 /proc/uptime)"
  echo "ORRERY-MD5: $(wget -q -O - "http://10.0.2.2:$orrery_port/file" | md5sum | cut -d' ' -f1)"
  echo "ORRERY-NET-END: $(cut -d' ' -f1 /proc/uptime)"
  echo ORRERY-DONE
  ;;
net_hostfwd)
  net_up
  mkdir -p /www
  echo "$orrery_token" >/www/token.txt
  httpd -p 80 -h /www || echo "ORRERY-FAIL: httpd"
  echo ORRERY-LISTENING
  # The host fetched the token through its forward once it serves "done" (bounded wait).
  i=0
  while [ "$(wget -q -O - "http://10.0.2.2:$orrery_port/done" 2>/dev/null)" != done ]; do
    i=$((i + 1))
    [ $i -gt 240 ] && { echo "ORRERY-FAIL: the host never said done"; break; }
    sleep 1
  done
  echo ORRERY-DONE
  ;;
disk_bench)
  # bench/disk.sh: orrery_mib MiB written to /dev/vda (fsync'd) then read back uncached.
  # Besides the times: the guest CPU's busy and idle+iowait jiffies in each phase (a guest that
  # is busy throughout is CPU-bound, one that idles waits for the device) and the block layer's
  # request counts (/sys/block/vda/stat: reads, read sectors, writes, write sectors).
  jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
  t0=$(cut -d' ' -f1 /proc/uptime)
  j0=$(jiffies)
  dd if=/dev/zero of=/dev/vda bs=1M count="$orrery_mib" conv=fsync 2>/dev/null ||
    echo "ORRERY-FAIL: dd write"
  j1=$(jiffies)
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo 3 >/proc/sys/vm/drop_caches
  t2=$(cut -d' ' -f1 /proc/uptime)
  j2=$(jiffies)
  dd if=/dev/vda of=/dev/null bs=1M count="$orrery_mib" 2>/dev/null || echo "ORRERY-FAIL: dd read"
  j3=$(jiffies)
  t3=$(cut -d' ' -f1 /proc/uptime)
  echo "ORRERY-DISK: $t0 $t1 $t2 $t3"
  echo "ORRERY-DISK-CPU: $j0 $j1 $j2 $j3"
  echo "ORRERY-DISK-REQS: $(awk '{ print $1, $3, $5, $7 }' /sys/block/vda/stat)"
  echo ORRERY-DONE
  ;;
*)
  echo "ORRERY-FAIL: unknown orrery_test '$orrery_test'"
  ;;
esac
poweroff -f
