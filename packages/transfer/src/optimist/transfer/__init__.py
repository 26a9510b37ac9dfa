"""optimist.transfer"""
