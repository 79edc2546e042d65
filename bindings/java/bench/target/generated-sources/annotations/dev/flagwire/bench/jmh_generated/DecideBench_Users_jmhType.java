package dev.flagwire.bench.jmh_generated;
public class DecideBench_Users_jmhType extends DecideBench_Users_jmhType_B3 {
}

