/*
 * Orrery's DSDT for -M pc (i440FX + PIIX3), compiled at build time by iasl. Addresses, ports
 * and IRQs are those of machine/pc/pc_map.h (pc_acpi_test checks them); the start of the
 * PCI memory windows depend on the RAM size and the CPU's address bits, so the board patches
 * PMLO, PHLO and PHHI (kept by their magic initial values) when it builds the tables. Revision
 * 2: AML integers are 64 bits wide, as the 64-bit window's arithmetic needs.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "ORRERY", "ORRERYPC", 1)
{
    Scope (\)
    {
        // The interrupt model the OS chose with \_PIC: 0 PIC, 1 APIC. The _PRT is the same in
        // both: PCI INTx reach ISA IRQs through the PIIX3 PIRQ routers, and those IRQs reach
        // the IOAPIC's pins of the same number (level, active high: the MADT overrides).
        Name (PICF, Zero)
        Method (_PIC, 1, NotSerialized)
        {
            PICF = Arg0
        }

        // S5 (soft off): SLP_TYP 0 in the PIIX4 PM1a control register.
        Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })
    }

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)

            // The first byte above low RAM, patched by the board (0xfec00000 is the window's
            // end, where the IOAPIC starts).
            Name (PMLO, 0x5A5A5A5A)
            // The 64-bit window's first and last byte, patched by the board (machine/pc/pc_map.h
            // pc_pci_windows); PHLO > PHHI when there is none.
            Name (PHLO, 0x5A5A5A5A5A5A5A5A)
            Name (PHHI, 0xA5A5A5A5A5A5A5A5)

            Method (_CRS, 0, Serialized)
            {
                Name (CRES, ResourceTemplate ()
                {
                    WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                        0x0000, 0x0000, 0x00FF, 0x0000, 0x0100,,,)
                    IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08,)
                    WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8,,, , TypeStatic, DenseTranslation)
                    WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300,,, , TypeStatic, DenseTranslation)
                    DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                        0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000,,, , AddressRangeMemory, TypeStatic)
                    DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                        0x00000000, 0xE0000000, 0xFEBFFFFF, 0x00000000, 0x1EC00000,,, PW32, AddressRangeMemory, TypeStatic)
                })
                CreateDWordField (CRES, \_SB.PCI0._CRS.PW32._MIN, PMIN)
                CreateDWordField (CRES, \_SB.PCI0._CRS.PW32._MAX, PMAX)
                CreateDWordField (CRES, \_SB.PCI0._CRS.PW32._LEN, PLEN)
                PMIN = PMLO
                PLEN = (PMAX - PMIN) + One
                If (PHLO > PHHI)
                {
                    Return (CRES)
                }
                Name (C64, ResourceTemplate ()
                {
                    QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                        0x0000000000000000, 0x0000000100000000, 0x000000017FFFFFFF, 0x0000000000000000,
                        0x0000000080000000,,, PW64, AddressRangeMemory, TypeStatic)
                })
                CreateQWordField (C64, \_SB.PCI0._CRS.PW64._MIN, QMIN)
                CreateQWordField (C64, \_SB.PCI0._CRS.PW64._MAX, QMAX)
                CreateQWordField (C64, \_SB.PCI0._CRS.PW64._LEN, QLEN)
                QMIN = PHLO
                QMAX = PHHI
                QLEN = (PHHI - PHLO) + One
                ConcatenateResTemplate (CRES, C64, Local0)
                Return (Local0)
            }

            // PCI slot s pin p (0 = INTA#) reaches PIRQ (p + s - 1) & 3, as PIIX3 routes them.
            Name (_PRT, Package ()
            {
            Package () {0x0000FFFF, 0, LNKD, 0}, Package () {0x0000FFFF, 1, LNKA, 0}, Package () {0x0000FFFF, 2, LNKB, 0}, Package () {0x0000FFFF, 3, LNKC, 0},
            Package () {0x0001FFFF, 0, LNKA, 0}, Package () {0x0001FFFF, 1, LNKB, 0}, Package () {0x0001FFFF, 2, LNKC, 0}, Package () {0x0001FFFF, 3, LNKD, 0},
            Package () {0x0002FFFF, 0, LNKB, 0}, Package () {0x0002FFFF, 1, LNKC, 0}, Package () {0x0002FFFF, 2, LNKD, 0}, Package () {0x0002FFFF, 3, LNKA, 0},
            Package () {0x0003FFFF, 0, LNKC, 0}, Package () {0x0003FFFF, 1, LNKD, 0}, Package () {0x0003FFFF, 2, LNKA, 0}, Package () {0x0003FFFF, 3, LNKB, 0},
            Package () {0x0004FFFF, 0, LNKD, 0}, Package () {0x0004FFFF, 1, LNKA, 0}, Package () {0x0004FFFF, 2, LNKB, 0}, Package () {0x0004FFFF, 3, LNKC, 0},
            Package () {0x0005FFFF, 0, LNKA, 0}, Package () {0x0005FFFF, 1, LNKB, 0}, Package () {0x0005FFFF, 2, LNKC, 0}, Package () {0x0005FFFF, 3, LNKD, 0},
            Package () {0x0006FFFF, 0, LNKB, 0}, Package () {0x0006FFFF, 1, LNKC, 0}, Package () {0x0006FFFF, 2, LNKD, 0}, Package () {0x0006FFFF, 3, LNKA, 0},
            Package () {0x0007FFFF, 0, LNKC, 0}, Package () {0x0007FFFF, 1, LNKD, 0}, Package () {0x0007FFFF, 2, LNKA, 0}, Package () {0x0007FFFF, 3, LNKB, 0},
            Package () {0x0008FFFF, 0, LNKD, 0}, Package () {0x0008FFFF, 1, LNKA, 0}, Package () {0x0008FFFF, 2, LNKB, 0}, Package () {0x0008FFFF, 3, LNKC, 0},
            Package () {0x0009FFFF, 0, LNKA, 0}, Package () {0x0009FFFF, 1, LNKB, 0}, Package () {0x0009FFFF, 2, LNKC, 0}, Package () {0x0009FFFF, 3, LNKD, 0},
            Package () {0x000AFFFF, 0, LNKB, 0}, Package () {0x000AFFFF, 1, LNKC, 0}, Package () {0x000AFFFF, 2, LNKD, 0}, Package () {0x000AFFFF, 3, LNKA, 0},
            Package () {0x000BFFFF, 0, LNKC, 0}, Package () {0x000BFFFF, 1, LNKD, 0}, Package () {0x000BFFFF, 2, LNKA, 0}, Package () {0x000BFFFF, 3, LNKB, 0},
            Package () {0x000CFFFF, 0, LNKD, 0}, Package () {0x000CFFFF, 1, LNKA, 0}, Package () {0x000CFFFF, 2, LNKB, 0}, Package () {0x000CFFFF, 3, LNKC, 0},
            Package () {0x000DFFFF, 0, LNKA, 0}, Package () {0x000DFFFF, 1, LNKB, 0}, Package () {0x000DFFFF, 2, LNKC, 0}, Package () {0x000DFFFF, 3, LNKD, 0},
            Package () {0x000EFFFF, 0, LNKB, 0}, Package () {0x000EFFFF, 1, LNKC, 0}, Package () {0x000EFFFF, 2, LNKD, 0}, Package () {0x000EFFFF, 3, LNKA, 0},
            Package () {0x000FFFFF, 0, LNKC, 0}, Package () {0x000FFFFF, 1, LNKD, 0}, Package () {0x000FFFFF, 2, LNKA, 0}, Package () {0x000FFFFF, 3, LNKB, 0},
            Package () {0x0010FFFF, 0, LNKD, 0}, Package () {0x0010FFFF, 1, LNKA, 0}, Package () {0x0010FFFF, 2, LNKB, 0}, Package () {0x0010FFFF, 3, LNKC, 0},
            Package () {0x0011FFFF, 0, LNKA, 0}, Package () {0x0011FFFF, 1, LNKB, 0}, Package () {0x0011FFFF, 2, LNKC, 0}, Package () {0x0011FFFF, 3, LNKD, 0},
            Package () {0x0012FFFF, 0, LNKB, 0}, Package () {0x0012FFFF, 1, LNKC, 0}, Package () {0x0012FFFF, 2, LNKD, 0}, Package () {0x0012FFFF, 3, LNKA, 0},
            Package () {0x0013FFFF, 0, LNKC, 0}, Package () {0x0013FFFF, 1, LNKD, 0}, Package () {0x0013FFFF, 2, LNKA, 0}, Package () {0x0013FFFF, 3, LNKB, 0},
            Package () {0x0014FFFF, 0, LNKD, 0}, Package () {0x0014FFFF, 1, LNKA, 0}, Package () {0x0014FFFF, 2, LNKB, 0}, Package () {0x0014FFFF, 3, LNKC, 0},
            Package () {0x0015FFFF, 0, LNKA, 0}, Package () {0x0015FFFF, 1, LNKB, 0}, Package () {0x0015FFFF, 2, LNKC, 0}, Package () {0x0015FFFF, 3, LNKD, 0},
            Package () {0x0016FFFF, 0, LNKB, 0}, Package () {0x0016FFFF, 1, LNKC, 0}, Package () {0x0016FFFF, 2, LNKD, 0}, Package () {0x0016FFFF, 3, LNKA, 0},
            Package () {0x0017FFFF, 0, LNKC, 0}, Package () {0x0017FFFF, 1, LNKD, 0}, Package () {0x0017FFFF, 2, LNKA, 0}, Package () {0x0017FFFF, 3, LNKB, 0},
            Package () {0x0018FFFF, 0, LNKD, 0}, Package () {0x0018FFFF, 1, LNKA, 0}, Package () {0x0018FFFF, 2, LNKB, 0}, Package () {0x0018FFFF, 3, LNKC, 0},
            Package () {0x0019FFFF, 0, LNKA, 0}, Package () {0x0019FFFF, 1, LNKB, 0}, Package () {0x0019FFFF, 2, LNKC, 0}, Package () {0x0019FFFF, 3, LNKD, 0},
            Package () {0x001AFFFF, 0, LNKB, 0}, Package () {0x001AFFFF, 1, LNKC, 0}, Package () {0x001AFFFF, 2, LNKD, 0}, Package () {0x001AFFFF, 3, LNKA, 0},
            Package () {0x001BFFFF, 0, LNKC, 0}, Package () {0x001BFFFF, 1, LNKD, 0}, Package () {0x001BFFFF, 2, LNKA, 0}, Package () {0x001BFFFF, 3, LNKB, 0},
            Package () {0x001CFFFF, 0, LNKD, 0}, Package () {0x001CFFFF, 1, LNKA, 0}, Package () {0x001CFFFF, 2, LNKB, 0}, Package () {0x001CFFFF, 3, LNKC, 0},
            Package () {0x001DFFFF, 0, LNKA, 0}, Package () {0x001DFFFF, 1, LNKB, 0}, Package () {0x001DFFFF, 2, LNKC, 0}, Package () {0x001DFFFF, 3, LNKD, 0},
            Package () {0x001EFFFF, 0, LNKB, 0}, Package () {0x001EFFFF, 1, LNKC, 0}, Package () {0x001EFFFF, 2, LNKD, 0}, Package () {0x001EFFFF, 3, LNKA, 0},
            Package () {0x001FFFFF, 0, LNKC, 0}, Package () {0x001FFFFF, 1, LNKD, 0}, Package () {0x001FFFFF, 2, LNKA, 0}, Package () {0x001FFFFF, 3, LNKB, 0}
            })

            // PIIX3's PCI-to-ISA bridge (slot 1, function 0): the PIRQ route registers.
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                OperationRegion (PIRQ, PCI_Config, 0x60, 0x04)
                Field (PIRQ, ByteAcc, NoLock, Preserve)
                {
                    PRQA, 8,
                    PRQB, 8,
                    PRQC, 8,
                    PRQD, 8
                }

                Device (PIC)
                {
                    Name (_HID, EisaId ("PNP0000"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0020, 0x0020, 0x01, 0x02,)
                        IO (Decode16, 0x00A0, 0x00A0, 0x01, 0x02,)
                        IO (Decode16, 0x04D0, 0x04D0, 0x01, 0x02,)
                        IRQNoFlags () {2}
                    })
                }

                Device (TMR)
                {
                    Name (_HID, EisaId ("PNP0100"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0040, 0x0040, 0x01, 0x04,)
                        IRQNoFlags () {0}
                    })
                }

                Device (SPKR)
                {
                    Name (_HID, EisaId ("PNP0800"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0061, 0x0061, 0x01, 0x01,)
                    })
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x02,)
                        IRQNoFlags () {8}
                    })
                }

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Method (_STA, 0, NotSerialized)
                    {
                        Return (0x0F)
                    }
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01,)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01,)
                        IRQNoFlags () {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Method (_STA, 0, NotSerialized)
                    {
                        Return (0x0F)
                    }
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Method (_STA, 0, NotSerialized)
                    {
                        Return (0x0F)
                    }
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08,)
                        IRQNoFlags () {4}
                    })
                }
            }
        }

        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            Method (_STA, 0, NotSerialized)
            {
                Return (0x0F)
            }
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400,)
            })
        }

        // The PCI interrupt links: PIRQA-D of PIIX3 (config 0x60-0x63; bit 7 disables the
        // route, bits 3:0 name the ISA IRQ).
        Method (LSTA, 1, NotSerialized)
        {
            If ((Arg0 & 0x80))
            {
                Return (0x09)
            }
            Return (0x0B)
        }

        Method (LCRS, 1, Serialized)
        {
            Name (BUF, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, LIRQ) {0}
            })
            CreateDWordField (BUF, \_SB.LCRS.LIRQ._INT, IRQV)
            If (!(Arg0 & 0x80))
            {
                IRQV = (Arg0 & 0x0F)
            }
            Return (BUF)
        }

        Name (LPRS, ResourceTemplate ()
        {
            Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,,) {5, 10, 11}
        })

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0)
            Method (_STA, 0, NotSerialized)
            {
                Return (LSTA (\_SB.PCI0.ISA.PRQA))
            }
            Method (_PRS, 0, NotSerialized)
            {
                Return (LPRS)
            }
            Method (_DIS, 0, NotSerialized)
            {
                \_SB.PCI0.ISA.PRQA |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (LCRS (\_SB.PCI0.ISA.PRQA))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, IRQW)
                \_SB.PCI0.ISA.PRQA = IRQW
            }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 1)
            Method (_STA, 0, NotSerialized)
            {
                Return (LSTA (\_SB.PCI0.ISA.PRQB))
            }
            Method (_PRS, 0, NotSerialized)
            {
                Return (LPRS)
            }
            Method (_DIS, 0, NotSerialized)
            {
                \_SB.PCI0.ISA.PRQB |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (LCRS (\_SB.PCI0.ISA.PRQB))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, IRQW)
                \_SB.PCI0.ISA.PRQB = IRQW
            }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 2)
            Method (_STA, 0, NotSerialized)
            {
                Return (LSTA (\_SB.PCI0.ISA.PRQC))
            }
            Method (_PRS, 0, NotSerialized)
            {
                Return (LPRS)
            }
            Method (_DIS, 0, NotSerialized)
            {
                \_SB.PCI0.ISA.PRQC |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (LCRS (\_SB.PCI0.ISA.PRQC))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, IRQW)
                \_SB.PCI0.ISA.PRQC = IRQW
            }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 3)
            Method (_STA, 0, NotSerialized)
            {
                Return (LSTA (\_SB.PCI0.ISA.PRQD))
            }
            Method (_PRS, 0, NotSerialized)
            {
                Return (LPRS)
            }
            Method (_DIS, 0, NotSerialized)
            {
                \_SB.PCI0.ISA.PRQD |= 0x80
            }
            Method (_CRS, 0, NotSerialized)
            {
                Return (LCRS (\_SB.PCI0.ISA.PRQD))
            }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, IRQW)
                \_SB.PCI0.ISA.PRQD = IRQW
            }
        }
    }
}
