"""12333 IVR: a SIP/RTP interactive voice response server for China's social-security hotline."""
