package dev.flagwire.bench.jmh_generated;
public class DecideBench_jmhType extends DecideBench_jmhType_B3 {
}

