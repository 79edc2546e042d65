package dev.flagwire.bench.jmh_generated;
public class HandlerBench_jmhType extends HandlerBench_jmhType_B3 {
}

