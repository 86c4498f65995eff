// Replays an sramflow SRAM trace (trace.hex: one access a line, hex {rw[3:0], word[7:0], data[15:0]},
// rw 1 = write) on port 0 of OpenRAM's behavioural model and counts read-data mismatches.
`timescale 1ns/1ps
module sram_replay_tb;
  reg clk = 0, csb0 = 1, web0 = 1, csb1 = 1;
  reg [6:0] addr0 = 0, addr1 = 0;
  reg [15:0] din0 = 0;
  wire [15:0] dout0, dout1;
  reg [27:0] trace [0:`TRACE_LEN-1];
  integer i, reads, mismatches;
  sky130_sram_256byte_1rw1r_16x128 #(.VERBOSE(0)) dut (
    .clk0(clk), .csb0(csb0), .web0(web0), .addr0(addr0), .din0(din0), .dout0(dout0),
    .clk1(clk), .csb1(csb1), .addr1(addr1), .dout1(dout1));
  always #5 clk = ~clk;
  initial begin
    $readmemh("trace.hex", trace);
    reads = 0; mismatches = 0;
    for (i = 0; i < `TRACE_LEN; i = i + 1) begin
      csb0 = 0; web0 = (trace[i][27:24] == 0); addr0 = trace[i][22:16]; din0 = trace[i][15:0];
      @(posedge clk); #9;  // read data is valid DELAY after the falling edge, until the next rising edge
      if (trace[i][27:24] == 0) begin
        reads = reads + 1;
        if (dout0 !== trace[i][15:0]) begin
          if (mismatches < 5) $display("MISMATCH access %0d word %0d: got %h expected %h", i, addr0, dout0, trace[i][15:0]);
          mismatches = mismatches + 1;
        end
      end
    end
    csb0 = 1;
    $display("RESULT reads=%0d mismatches=%0d", reads, mismatches);
    $finish;
  end
endmodule
