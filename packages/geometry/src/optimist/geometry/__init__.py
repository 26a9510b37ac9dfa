"""optimist.geometry"""
