package dev.flagwire.bench.jmh_generated;
public class BreakdownBench_jmhType extends BreakdownBench_jmhType_B3 {
}

