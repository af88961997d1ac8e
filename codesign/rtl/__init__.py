"""RTL of a typed graph (da4ml), its synthesis (Yosys) and its simulation (Verilator)."""
